// The HTML renderings of the index, job lists and jobs, for browsers (SPEC §12). The
// resources ask here (after negotiate.ts found that the client prefers HTML); a page not
// registered is answered with the machine form (JSON, XML) instead. The pages themselves are
// registered by the module that renders them.

import type { JobRecord } from '../core/job.js';
import type { Caller } from './caller.js';
import type { ServiceEntry } from './index-resource.js';

export interface HtmlPages {
  index?: (services: ServiceEntry[], caller: Caller) => string;
  jobList?: (definition: string, jobs: JobRecord[], baseUrl: string, caller: Caller) => string;
  job?: (job: JobRecord, baseUrl: string, caller: Caller) => string;
}

export const htmlPages: HtmlPages = {};
