// BASE/: the services this server offers, one per definition (SPEC §12), as JSON, or as
// HTML for a browser that prefers it.

import type { DefinitionsFile } from '../definitions/schema.js';
import type { ParamValue } from '../core/job.js';

export interface ServiceEntry {
  name: string;
  description: string | null;
  url: string;
  parameters: { name: string; type: string; required: boolean; default: ParamValue | null; description: string | null }[];
}

export const serviceUrl = (baseUrl: string, name: string): string => `${baseUrl}/${encodeURIComponent(name)}`;

export function serviceEntries(defs: DefinitionsFile, baseUrl: string): ServiceEntry[] {
  return Object.values(defs.jobs).map((def) => ({
    name: def.name,
    description: def.description,
    url: serviceUrl(baseUrl, def.name),
    parameters: Object.entries(def.parameters).map(([name, spec]) => ({
      name,
      type: spec.type,
      required: spec.required,
      default: spec.default ?? null,
      description: spec.description,
    })),
  }));
}
