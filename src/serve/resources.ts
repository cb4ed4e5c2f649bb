// The handlers of the resource tree (SPEC §12). Each calls the same core function as the
// CLI command it mirrors (submit, run, abort, set, delete, list), through withStateLock when
// it changes something, and answers with a document, a text/plain value, or a 303 to the
// resource to look at next. Jobs are found without the lock (reads need none); a job of
// another owner is 403, one under another definition's path 404.

import { closeSync, createReadStream, readSync, realpathSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type JobRecord, checkRunId, isJobId } from '../core/job.js';
import { type Phase, PHASES, isFinal, isPhase } from '../core/phases.js';
import { parseDestruction, parseDuration } from '../core/duration.js';
import { filterJobs, parseListFilter } from '../core/query.js';
import { deleteJob, runJobs } from '../core/actions.js';
import { type JobChanges, changeJob, setJob } from '../core/set.js';
import { requestJobAbort } from '../run/abort.js';
import { openJobFile } from '../run/job-files.js';
import { tailOffset } from '../cli/tail.js';
import { resolveParameters } from '../definitions/params.js';
import type { Definition } from '../definitions/schema.js';
import { jobUrl } from '../uws/xml.js';
import { mayAccess } from './caller.js';
import { Form, readForm } from './form.js';
import { badRequest, forbidden, notFound } from './http-error.js';
import { htmlPages } from './html-pages.js';
import { prefersHtml } from './negotiate.js';
import { HTML, JSON_TYPE, TEXT, XML, redirect, send, sendText } from './respond.js';
import { type Property } from './router.js';
import { IDLE_SOCKET_MS, WAIT_MARGIN_MS } from './timeouts.js';
import { serviceEntries, serviceUrl } from './index-resource.js';
import type { Request, Service } from './service.js';

/** Phases in which WAIT blocks (SPEC §12). */
const WAITING_PHASES: readonly Phase[] = ['PENDING', 'QUEUED', 'HELD', 'EXECUTING'];
/** Form fields of job creation that are not parameters. */
const CONTROL_FIELDS = new Set(['phase', 'runid', 'executionduration', 'destruction']);
/** The one form field a POST to each of these job properties takes (parameters: the job's own). */
const SINGLE_FIELD: Partial<Record<Property, string>> = { phase: 'PHASE', executionduration: 'EXECUTIONDURATION', destruction: 'DESTRUCTION' };
/** Lines of stderr under the message of /error. */
const ERROR_TAIL_LINES = 100;

export async function handleRoute(svc: Service, rq: Request): Promise<void> {
  const r = rq.route;
  switch (r.kind) {
    case 'index': return index(svc, rq);
    case 'jobs': return rq.req.method === 'POST' ? createJob(svc, rq, r.definition) : listJobs(svc, rq, r.definition);
    case 'job': return jobResource(svc, rq, r.definition, r.jobId);
    case 'property': return property(svc, rq, findJob(svc, rq, r.definition, r.jobId), r.property);
    case 'result': return resultFile(svc, rq, findJob(svc, rq, r.definition, r.jobId), r.resultId);
  }
}

// ---- BASE/ and {jobs} -------------------------------------------------------------------

async function index(svc: Service, rq: Request): Promise<void> {
  const services = serviceEntries(await svc.config.definitions.get(), svc.config.baseUrl);
  if (htmlPages.index && prefersHtml(rq.req, JSON_TYPE)) return send(rq.res, 200, HTML, htmlPages.index(services, rq.caller));
  send(rq.res, 200, JSON_TYPE, `${JSON.stringify({ services }, null, 2)}\n`);
}

async function definitionOf(svc: Service, name: string): Promise<Definition> {
  const defs = await svc.config.definitions.get();
  const def = Object.hasOwn(defs.jobs, name) ? defs.jobs[name] : undefined;
  if (!def) throw notFound(`no such service: ${JSON.stringify(name)}; services: ${Object.keys(defs.jobs).join(', ') || '(none)'}`);
  return def;
}

/** A PHASE field's value, taken as given (upper case, SPEC §12): 400 when it names no phase. */
function checkPhaseName(text: string): void {
  if (!isPhase(text)) throw badRequest(`PHASE: unknown phase ${JSON.stringify(text)}; phases: ${PHASES.join(' ')}`);
}

async function listJobs(svc: Service, rq: Request, name: string): Promise<void> {
  await definitionOf(svc, name);
  const form = Form.fromSearch(rq.search);
  // Values are taken as given (SPEC §12): `pending` is no phase here, as for WAIT's PHASE.
  // (The CLI's --phase takes any case: a shell user types it.)
  for (const p of form.all('PHASE')) checkPhaseName(p);
  const filter = parseListFilter({ phase: form.all('PHASE'), after: form.one('AFTER'), last: form.one('LAST'), definition: [name] });
  const store = svc.config.store;
  const visible = (j: JobRecord) => mayAccess(rq.caller, j);
  const { last, ...rest } = filter;
  const tail = last === null ? undefined : store.lastJobs(last, (j) => visible(j) && filterJobs([j], { ...rest, last: null }).length === 1);
  const jobs = tail ?? filterJobs(store.listJobs().filter(visible), filter);
  if (htmlPages.jobList && prefersHtml(rq.req, XML)) return send(rq.res, 200, HTML, htmlPages.jobList(name, jobs, svc.config.baseUrl, rq.caller));
  send(rq.res, 200, XML, svc.config.documents.jobs(jobs));
}

/** A declared parameter by its name in any case (an exact match first). */
function parameterName(def: Definition, given: string): string {
  if (Object.hasOwn(def.parameters, given)) return given;
  const lower = given.toLowerCase();
  return Object.keys(def.parameters).find((p) => p.toLowerCase() === lower) ?? given;
}

async function createJob(svc: Service, rq: Request, name: string): Promise<void> {
  const def = await definitionOf(svc, name);
  const form = await readForm(rq.req, rq.search);
  const phase = form.one('PHASE');
  if (phase !== undefined && phase !== 'RUN') throw badRequest(`PHASE: ${JSON.stringify(phase)} cannot be given at creation; only PHASE=RUN (queue the job at once)`);
  const runId = form.one('RUNID');
  if (runId !== undefined) checkRunId(runId);
  const duration = form.one('EXECUTIONDURATION');
  const destruction = form.one('DESTRUCTION');
  const pairs: Array<[string, string]> = [];
  for (const field of form.entries()) {
    if (CONTROL_FIELDS.has(field.name.toLowerCase())) continue;
    for (const value of field.values) pairs.push([parameterName(def, field.name), value]);
  }
  const resolved = resolveParameters(def, pairs);
  const job = await svc.config.creations.create(def, resolved, {
    runId: runId ?? null,
    executionDuration: duration === undefined ? undefined : parseDuration(duration, 'EXECUTIONDURATION'),
    destruction: destruction === undefined ? undefined : parseDestruction(destruction, new Date()),
    run: phase === 'RUN',
    ownerId: rq.caller.name,
  });
  redirect(rq.res, jobUrl(svc.config.baseUrl, job));
}

// ---- {job} ------------------------------------------------------------------------------

/** The job a path names, if the caller may see it. */
function findJob(svc: Service, rq: Request, definition: string, jobId: string): JobRecord {
  const job = isJobId(jobId) ? svc.config.store.getJob(jobId) : undefined;
  if (!job || job.definition !== definition) throw notFound(`no such job: ${jobId} (in ${definition})`);
  if (!mayAccess(rq.caller, job)) throw forbidden(`job ${jobId} belongs to another owner`);
  if (job.phase === 'QUEUED' || job.phase === 'EXECUTING') svc.lookAfterRunner();
  return job;
}

const withLock = async <T>(svc: Service, change: () => T | Promise<T>): Promise<T> => {
  const { withStateLock } = await import('./writes.js');
  return withStateLock(svc.config.store, change);
};

async function jobResource(svc: Service, rq: Request, definition: string, jobId: string): Promise<void> {
  const job = findJob(svc, rq, definition, jobId);
  const method = rq.req.method;
  if (method === 'DELETE') return removeJob(svc, rq, job);
  if (method === 'POST') {
    const form = await readForm(rq.req, rq.search);
    form.only('{job}', 'PHASE', 'ACTION');
    const action = form.one('ACTION');
    const phase = form.one('PHASE');
    if (action !== undefined) {
      if (action !== 'DELETE') throw badRequest(`ACTION: ${JSON.stringify(action)} is not an action; the only one is ACTION=DELETE`);
      if (phase !== undefined) throw badRequest('ACTION=DELETE and PHASE cannot be given together');
      return removeJob(svc, rq, job);
    }
    if (phase === undefined) throw badRequest('nothing to do: POST PHASE=RUN, PHASE=ABORT or ACTION=DELETE to a job');
    return changePhase(svc, rq, job, phase);
  }
  return getJob(svc, rq, job);
}

async function removeJob(svc: Service, rq: Request, job: JobRecord): Promise<void> {
  await withLock(svc, () => deleteJob(svc.config.store, job.jobId));
  redirect(rq.res, serviceUrl(svc.config.baseUrl, job.definition));
}

async function changePhase(svc: Service, rq: Request, job: JobRecord, phase: string): Promise<void> {
  const store = svc.config.store;
  if (phase === 'RUN') {
    const [outcome] = await withLock(svc, () => runJobs(store, [job.jobId]));
    if (outcome instanceof Error) throw outcome;
  } else if (phase === 'ABORT') {
    await withLock(svc, () => requestJobAbort(store, job.jobId));
  } else {
    throw badRequest(`PHASE: ${JSON.stringify(phase)} is not a phase a job can be sent to; use PHASE=RUN or PHASE=ABORT`);
  }
  redirect(rq.res, jobUrl(svc.config.baseUrl, job));
}

/** WAIT's seconds: a whole number, or -1 for as long as the server allows; capped at --max-wait. */
function waitSeconds(text: string, maxWait: number): number {
  if (!/^(-1|\d+)$/.test(text)) throw badRequest(`WAIT: ${JSON.stringify(text)} is not a whole number of seconds (or -1: as long as the server allows)`);
  const n = Number(text);
  return n === -1 ? maxWait : Math.min(n, maxWait);
}

async function getJob(svc: Service, rq: Request, seen: JobRecord): Promise<void> {
  const form = Form.fromSearch(rq.search);
  const waitText = form.one('WAIT');
  const phaseText = form.one('PHASE');
  if (phaseText !== undefined) checkPhaseName(phaseText);
  let job = seen;
  if (waitText !== undefined) {
    const seconds = waitSeconds(waitText, svc.config.maxWait);
    const blocks = seconds > 0 && !svc.stopping && WAITING_PHASES.includes(job.phase) && (phaseText === undefined || phaseText === job.phase);
    if (blocks) {
      // Nothing moves on the socket while it blocks: the idle timeout must not cut it.
      const socket = rq.req.socket;
      socket.setTimeout(seconds * 1000 + WAIT_MARGIN_MS);
      await svc.config.hub.wait(job.jobId, rq.caller.name, job.phase, seconds * 1000, (cancel) => rq.res.on('close', cancel));
      socket.setTimeout(IDLE_SOCKET_MS);
      if (rq.res.destroyed) return;
      const now = svc.config.store.getJob(job.jobId);
      if (!now) throw notFound(`no such job: ${job.jobId} (deleted while waited for)`);
      job = now;
    }
  }
  if (htmlPages.job && prefersHtml(rq.req, XML)) return send(rq.res, 200, HTML, htmlPages.job(svc.config.documents.withQuote(job), svc.config.baseUrl, rq.caller));
  send(rq.res, 200, XML, svc.config.documents.job(job));
}

// ---- {job}/PROPERTY ---------------------------------------------------------------------

const utcText = (iso: string | null): string => (iso === null ? '' : new Date(Date.parse(iso)).toISOString());

async function property(svc: Service, rq: Request, job: JobRecord, name: Property): Promise<void> {
  if (rq.req.method === 'POST') return setProperty(svc, rq, job, name);
  const docs = svc.config.documents;
  switch (name) {
    case 'phase': return sendText(rq.res, 200, job.phase);
    case 'executionduration': return sendText(rq.res, 200, String(job.executionDuration));
    case 'destruction': return sendText(rq.res, 200, utcText(job.destruction));
    case 'quote': return sendText(rq.res, 200, utcText(docs.withQuote(job).quote));
    case 'owner': return sendText(rq.res, 200, job.ownerId ?? '');
    case 'parameters': return send(rq.res, 200, XML, docs.parameters(job));
    case 'results': return send(rq.res, 200, XML, docs.results(job));
    case 'error': return errorText(svc, rq, job);
    case 'stdout': return streamLog(rq.res, svc.config.store.layout.stdoutLog(job.jobId), TEXT);
    case 'stderr': return streamLog(rq.res, svc.config.store.layout.stderrLog(job.jobId), TEXT);
  }
}

async function setProperty(svc: Service, rq: Request, job: JobRecord, name: Property): Promise<void> {
  const form = await readForm(rq.req, rq.search);
  const field = SINGLE_FIELD[name];
  if (field) form.only(`{job}/${name}`, field);
  if (name === 'phase') {
    const phase = form.one('PHASE');
    if (phase === undefined) throw badRequest('PHASE missing: POST PHASE=RUN or PHASE=ABORT');
    return changePhase(svc, rq, job, phase);
  }
  const changes: JobChanges = { params: [] };
  if (name === 'executionduration') {
    const text = form.one('EXECUTIONDURATION');
    if (text === undefined) throw badRequest('EXECUTIONDURATION missing: POST EXECUTIONDURATION=SECONDS');
    changes.executionDuration = parseDuration(text, 'EXECUTIONDURATION');
  } else if (name === 'destruction') {
    const text = form.one('DESTRUCTION');
    if (text === undefined) throw badRequest('DESTRUCTION missing: POST DESTRUCTION=ISO-INSTANT');
    changes.destruction = parseDestruction(text, new Date());
  } else {
    // parameters: as `set -p`, while PENDING.
    const def = job.definitionSnapshot;
    for (const field of form.entries()) for (const value of field.values) changes.params.push([parameterName(def, field.name), value]);
    if (changes.params.length === 0) throw badRequest('no parameters given: POST NAME=VALUE for the parameters to change');
  }
  const store = svc.config.store;
  await changeJob(store, job.jobId, changes, (outside) => withLock(svc, () => setJob(store, job.jobId, changes, outside)));
  redirect(rq.res, jobUrl(svc.config.baseUrl, job));
}

/** The errorSummary message, then the last lines of stderr; 404 without an errorSummary. */
function errorText(svc: Service, rq: Request, job: JobRecord): void {
  if (!job.errorSummary) throw notFound(`job ${job.jobId} has no error${isFinal(job.phase) ? '' : ` (it is ${job.phase})`}`);
  let tail = '';
  const opened = openJobFile(svc.config.store.layout.stderrLog(job.jobId));
  if (opened) {
    try {
      const start = tailOffset(opened.fd, opened.size, ERROR_TAIL_LINES);
      const buf = Buffer.alloc(Math.min(opened.size - start, 1024 * 1024));
      let got = 0;
      while (got < buf.length) {
        const n = readSync(opened.fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      tail = buf.subarray(0, got).toString('utf8');
      closeSync(opened.fd);
    } catch {
      tail = '';
    }
  }
  send(rq.res, 200, TEXT, `${job.errorSummary.message}\n${tail}`);
}

/** A log of the job, streamed (empty when it is missing or not a regular file). */
function streamLog(res: ServerResponse, file: string, type: string): Promise<void> {
  const opened = openJobFile(file);
  if (!opened) {
    send(res, 200, type, '');
    return Promise.resolve();
  }
  return streamOpened(res, file, opened, type);
}

/**
 * An open file of the job, streamed with its length: exactly the size fstat gave, so a log
 * that grows meanwhile cannot overrun Content-Length. (Files of a job are opened only by
 * openJobFile: the job may have made them FIFOs or symlinks.)
 */
function streamOpened(res: ServerResponse, file: string, opened: { fd: number; size: number }, type: string): Promise<void> {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(opened.size) });
  if (res.req.method === 'HEAD' || opened.size === 0) {
    closeSync(opened.fd);
    res.end();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const stream = createReadStream(file, { fd: opened.fd, start: 0, end: opened.size - 1 });
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

async function resultFile(svc: Service, rq: Request, job: JobRecord, resultId: string): Promise<void> {
  const result = job.results.find((r) => r.id === resultId);
  if (!result) throw notFound(`job ${job.jobId} has no result ${JSON.stringify(resultId)}${isFinal(job.phase) ? '' : ` (it is ${job.phase}: results are listed when it ends)`}`);
  const dir = svc.config.store.layout.resultsDir(job.jobId);
  const file = join(dir, result.id);
  // The job owns its results directory: a subdirectory it replaced by a symlink must not
  // lead a client out of it (openJobFile refuses a symlink only as the last component).
  if (!insideDir(dir, file)) throw notFound(`result ${JSON.stringify(resultId)} of job ${job.jobId} is no longer inside its results directory`);
  const opened = openJobFile(file);
  if (!opened) throw notFound(`result ${JSON.stringify(resultId)} of job ${job.jobId} is no longer a readable file in its results directory`);
  await streamOpened(rq.res, file, opened, result.mimeType || 'application/octet-stream');
}

function insideDir(dir: string, file: string): boolean {
  try {
    return realpathSync(file).startsWith(`${realpathSync(dir)}/`);
  } catch {
    return false;
  }
}
