// UWS 1.1 XML (SPEC §10): pure functions from job records to documents that validate against
// UWS-v1.1.xsd, so the CLI prints them today and an HTTP binding can serve them unchanged.
// How a record maps onto the schema:
//   - Elements follow the XSD's sequence (jobId runId ownerId phase quote creationTime
//     startTime endTime executionDuration destruction parameters results errorSummary).
//   - A null *nillable* field (ownerId quote startTime endTime destruction) is written as
//     `<uws:x xsi:nil="true"/>`; a null *optional* one (runId errorSummary) is left out;
//     `uws:results` is always written, empty when there are none.
//   - Times are re-serialised as UTC with `Z`; executionDuration is clamped into xs:int.
//   - Parameter values are their JS text (booleans true/false); results link to their files
//     through `hrefFor` (file:// URLs by default); with `baseUrl` (the HTTP binding, serve)
//     jobrefs and results link to their absolute URLs under it instead.
//   - Every value goes through escapeXml: markup characters become references and characters
//     XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF) become
//     U+FFFD, so no job or user input can make a document ill-formed.
// `uws:results` has no `version` attribute in the schema, so only `uws:job` and `uws:jobs`
// carry version="1.1".

import { pathToFileURL } from 'node:url';
import type { JobRecord, ParamValue, ResultFile } from '../core/job.js';

export interface XmlOptions {
  /** Whether more detail on an error is available (for the CLI: stderr.log is not empty). */
  hasDetail?: (job: JobRecord) => boolean;
  /** The xlink:href of a result; default a file:// URL of its path. */
  hrefFor?: (r: ResultFile) => string;
  /** The xlink:href of a jobref in `uws:jobs`; default none (the attribute is optional). */
  jobHref?: (job: JobRecord) => string;
  /**
   * The REST binding's base URL (`uwsrun serve`, SPEC §12): jobrefs then link to
   * BASE/DEF/JOBID and results to BASE/DEF/JOBID/results/RESULTID, all absolute.
   */
  baseUrl?: string;
}

/** The job that owns a list of results, for their URLs under a base URL. */
export type JobRef = Pick<JobRecord, 'jobId' | 'definition'>;

/** BASE/DEF/JOBID: the URL of a job under the REST binding's base URL (no trailing slash). */
export const jobUrl = (baseUrl: string, job: JobRef): string =>
  `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(job.definition)}/${encodeURIComponent(job.jobId)}`;

/** The URL of a result file: each segment of its id (a path below results/) encoded. */
export const resultUrl = (baseUrl: string, job: JobRef, resultId: string): string =>
  `${jobUrl(baseUrl, job)}/results/${resultId.split('/').map(encodeURIComponent).join('/')}`;

function resultHref(opts: XmlOptions, job: JobRef | undefined): (r: ResultFile) => string {
  if (opts.hrefFor) return opts.hrefFor;
  if (opts.baseUrl !== undefined && job) return (r) => resultUrl(opts.baseUrl!, job, r.id);
  return (r) => pathToFileURL(r.path).href;
}

const jobrefHref = (opts: XmlOptions): ((job: JobRecord) => string) | undefined =>
  opts.jobHref ?? (opts.baseUrl !== undefined ? (job) => jobUrl(opts.baseUrl!, job) : undefined);

export const UWS_NS = 'http://www.ivoa.net/xml/UWS/v1.0';
export const XLINK_NS = 'http://www.w3.org/1999/xlink';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
export const UWS_VERSION = '1.1';
export const XS_INT_MAX = 2147483647;

/** The values of uws:ExecutionPhase; anything else in a record is written as UNKNOWN. */
const XSD_PHASES: ReadonlySet<string> = new Set([
  'PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'UNKNOWN', 'HELD', 'SUSPENDED', 'ABORTED', 'ARCHIVED',
]);

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
const NAMESPACES = `xmlns:uws="${UWS_NS}" xmlns:xlink="${XLINK_NS}" xmlns:xsi="${XSI_NS}"`;
const INDENT = '  ';

// XML 1.0 Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const REFERENCES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  // Written as references so attribute-value and line-end normalisation cannot change them.
  '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/**
 * Text safe both as element content and inside a quoted attribute value: markup characters
 * and tab/newline/CR become references; characters XML 1.0 cannot represent become U+FFFD.
 */
export function escapeXml(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"'\t\n\r]/g, (c) => REFERENCES[c]!);
}

/** An instant as xs:dateTime in UTC with Z, or null when absent or unreadable. */
function utc(text: string | null | undefined): string | null {
  if (text === null || text === undefined || text === '') return null;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return null;
  const iso = new Date(ms).toISOString();
  // Years beyond 9999 serialise as "+010000-…", which xs:dateTime does not accept.
  return /^\d{4}-/.test(iso) ? iso : null;
}

function xsInt(n: number): number {
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.trunc(n), XS_INT_MAX);
}

function paramText(value: ParamValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

const attrs = (pairs: [string, string | undefined][]): string =>
  pairs.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(v!)}"`).join('');

const element = (name: string, text: string): string => `<uws:${name}>${escapeXml(text)}</uws:${name}>`;
const nillable = (name: string, text: string | null): string =>
  text === null ? `<uws:${name} xsi:nil="true"/>` : element(name, text);

/** A parent element around already-rendered children, indented one level deeper. */
function wrap(open: string, name: string, children: string[]): string[] {
  if (children.length === 0) return [`${open.slice(0, -1)}/>`];
  return [open, ...children.map((line) => INDENT + line), `</uws:${name}>`];
}

const document = (lines: string[]): string => `${DECLARATION}\n${lines.join('\n')}\n`;

function resultLines(results: ResultFile[], opts: XmlOptions, job: JobRef | undefined, open = '<uws:results>'): string[] {
  const href = resultHref(opts, job);
  const children = results.map((r) => `<uws:result${attrs([
    ['id', r.id],
    ['xlink:href', href(r)],
    ['size', Number.isSafeInteger(r.size) && r.size >= 0 ? String(r.size) : undefined],
    ['mime-type', r.mimeType || undefined],
  ])}/>`);
  return wrap(open, 'results', children);
}

// A parameter reads as the text it was given (`sigma=2.50` stays 2.50, a YAML default its
// source text), as in `show` and the HTML page: what a client sent is what it reads back.
const parameterLines = (job: JobRecord): string[] => Object.entries(job.parameters ?? {})
  .filter(([, v]) => v !== null && v !== undefined)
  .map(([name, v]) => `<uws:parameter${attrs([['id', name]])}>${escapeXml(job.paramText && Object.hasOwn(job.paramText, name) ? job.paramText[name]! : paramText(v))}</uws:parameter>`);

function jobLines(job: JobRecord, opts: XmlOptions): string[] {
  const phase = XSD_PHASES.has(job.phase) ? job.phase : 'UNKNOWN';
  const creation = utc(job.creationTime);
  const lines: string[] = [element('jobId', job.jobId)];
  if (job.runId !== null && job.runId !== undefined) lines.push(element('runId', job.runId));
  lines.push(
    nillable('ownerId', job.ownerId ? job.ownerId : null),
    element('phase', phase),
    nillable('quote', utc(job.quote)),
  );
  if (creation !== null) lines.push(element('creationTime', creation));
  lines.push(
    nillable('startTime', utc(job.startTime)),
    nillable('endTime', utc(job.endTime)),
    element('executionDuration', String(xsInt(job.executionDuration))),
    nillable('destruction', utc(job.destruction)),
  );
  lines.push(...wrap('<uws:parameters>', 'parameters', parameterLines(job)));
  lines.push(...resultLines(job.results ?? [], opts, job));
  if (job.errorSummary) {
    const type = job.errorSummary.type === 'transient' ? 'transient' : 'fatal';
    const hasDetail = opts.hasDetail ? opts.hasDetail(job) : false;
    lines.push(...wrap(`<uws:errorSummary${attrs([['type', type], ['hasDetail', String(hasDetail)]])}>`, 'errorSummary', [
      element('message', job.errorSummary.message),
    ]));
  }
  return lines;
}

/** `uws:job`: the whole state of one job (UWS 1.1 §2.2.2.2). */
export function jobDocument(job: JobRecord, opts: XmlOptions = {}): string {
  return document(wrap(`<uws:job version="${UWS_VERSION}" ${NAMESPACES}>`, 'job', jobLines(job, opts)));
}

/** `uws:jobs`: one `uws:jobref` per job, in the order given (UWS 1.1 §2.2.2.1). */
export function jobsDocument(jobs: JobRecord[], opts: XmlOptions = {}): string {
  const refs = jobs.flatMap((job) => {
    const creation = utc(job.creationTime);
    const children = [element('phase', XSD_PHASES.has(job.phase) ? job.phase : 'UNKNOWN')];
    if (job.runId !== null && job.runId !== undefined) children.push(element('runId', job.runId));
    children.push(nillable('ownerId', job.ownerId ? job.ownerId : null));
    if (creation !== null) children.push(element('creationTime', creation));
    const href = jobrefHref(opts);
    const open = `<uws:jobref${attrs([['id', job.jobId], ['xlink:href', href?.(job)]])}>`;
    return wrap(open, 'jobref', children);
  });
  return document(wrap(`<uws:jobs version="${UWS_VERSION}" ${NAMESPACES}>`, 'jobs', refs));
}

/** `uws:results`: the result files of one job (UWS 1.1 §2.2.2.2, /{jobs}/{job-id}/results). */
export function resultsDocument(results: ResultFile[], opts: XmlOptions = {}, job?: JobRef): string {
  return document(resultLines(results, opts, job, `<uws:results ${NAMESPACES}>`));
}

/** `uws:parameters`: the parameters of one job (UWS 1.1 §2.2.2.2, /{jobs}/{job-id}/parameters). */
export function parametersDocument(job: JobRecord): string {
  return document(wrap(`<uws:parameters ${NAMESPACES}>`, 'parameters', parameterLines(job)));
}
