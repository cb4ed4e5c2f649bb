// The resource tree of SPEC §12 as data: a path is split into its segments (each
// percent-decoded) and matched against the few shapes the tree has; each shape names the
// methods it takes, so a method it does not take is one 405 with Allow, decided here.
//   /                          index
//   /DEF                       job list of a definition
//   /DEF/JOBID                 job
//   /DEF/JOBID/PROPERTY        phase, executionduration, destruction, error, quote, owner,
//                              parameters, results, stdout, stderr
//   /DEF/JOBID/results/ID...   one result file (its id may hold slashes: a path below results/)
// Paths are routed as received, so a reverse proxy that maps /uws/ to / strips its prefix
// and --base-url puts it back in the URLs the server writes.

import { badRequest, notFound } from './http-error.js';

export const PROPERTIES = ['phase', 'executionduration', 'destruction', 'error', 'quote', 'owner', 'parameters', 'results', 'stdout', 'stderr'] as const;
export type Property = (typeof PROPERTIES)[number];

export type Route =
  | { kind: 'index' }
  | { kind: 'jobs'; definition: string }
  | { kind: 'job'; definition: string; jobId: string }
  | { kind: 'property'; definition: string; jobId: string; property: Property }
  | { kind: 'result'; definition: string; jobId: string; resultId: string };

const READ = ['GET', 'HEAD'] as const;
const READ_POST = ['GET', 'HEAD', 'POST'] as const;

/** The methods each resource takes (HEAD wherever GET). */
export function allowedMethods(route: Route): readonly string[] {
  switch (route.kind) {
    case 'index': return READ;
    case 'jobs': return READ_POST;
    case 'job': return [...READ_POST, 'DELETE'];
    case 'result': return READ;
    case 'property':
      return ['phase', 'executionduration', 'destruction', 'parameters'].includes(route.property) ? READ_POST : READ;
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`malformed percent-encoding in path segment ${JSON.stringify(segment)}`);
  }
}

/** The route of a request path (without its query); 404 for a path outside the tree. */
export function route(pathname: string): Route {
  const raw = pathname.split('/').slice(1);
  // BASE/DEF/ is BASE/DEF: one trailing slash is ignored.
  if (raw.length > 1 && raw.at(-1) === '') raw.pop();
  const parts = raw.map(decode);
  if (parts.length === 1 && parts[0] === '') return { kind: 'index' };
  if (parts.some((p) => p === '')) throw notFound(`no such resource: ${pathname}`);
  const [definition, jobId, property, ...rest] = parts as [string, string?, string?, ...string[]];
  if (jobId === undefined) return { kind: 'jobs', definition };
  if (property === undefined) return { kind: 'job', definition, jobId };
  if (property === 'results' && rest.length > 0) return { kind: 'result', definition, jobId, resultId: rest.join('/') };
  if (rest.length === 0 && (PROPERTIES as readonly string[]).includes(property)) return { kind: 'property', definition, jobId, property: property as Property };
  throw notFound(`no such resource: ${pathname}`);
}
