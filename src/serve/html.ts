// HTML pages for people with a browser (SPEC §12): the index (definitions and their
// parameters, each with a form that creates a job), a job list (ids, phases, links) and a
// job page (phase, times, parameters, errors, links to results, logs and the XML, and
// buttons for run/abort/delete). Pure functions from the same data the XML and JSON are made
// of; the server decides when to use them (negotiate.ts) and gives the base URL. Importing
// this module registers the pages in html-pages.ts.
//
// Every value goes through escapeHtml, in text and in quoted attributes alike, so nothing a
// job or a user wrote becomes markup, and every path segment of a URL is percent-encoded.
// The pages are self-contained: one inline style sheet, no scripts, no external assets. A
// page of an active job reloads itself every few seconds (a meta refresh, no script).

import type { JobRecord } from '../core/job.js';
import { FINAL_PHASES } from '../core/phases.js';
import type { Caller } from './caller.js';
import { htmlPages } from './html-pages.js';
import { type ServiceEntry, serviceUrl } from './index-resource.js';
import { jobUrl, resultUrl } from '../uws/xml.js';

const REFS: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe as element content and inside a quoted attribute value. C0 controls (but tab
 * and newline) and DEL are shown as U+FFFD: HTML parsers treat them as errors. */
export function escapeHtml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '\uFFFD').replace(/[&<>"']/g, (c) => REFS[c]!);
}

const e = escapeHtml;

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{text-align:left;padding:.25em .8em .25em 0;vertical-align:top}
th{border-bottom:1px solid #999}tr+tr td{border-top:1px solid #eee}
code,pre,.id{font-family:ui-monospace,monospace;font-size:.92em}pre{background:#f5f5f5;padding:.6em;overflow:auto}
.phase{font-weight:600}.COMPLETED{color:#176b1d}.ERROR{color:#b00020}.ABORTED{color:#8a5300}
.EXECUTING{color:#0b57a8}.QUEUED,.PENDING,.HELD{color:#555}
nav a{margin-right:1em}form.inline{display:inline;margin-right:.5em}.muted{color:#777}
`;

const whoAmI = (caller: Caller): string => `<p class="muted">signed in as ${e(caller.name)}${caller.admin ? ' (admin: all jobs)' : ''}</p>`;

function page(title: string, body: string, refreshSeconds?: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">\n` : ''}<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const phaseSpan = (phase: string): string => `<span class="phase ${e(phase)}">${e(phase)}</span>`;
const orDash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '<span class="muted">-</span>' : e(v));
const valueText = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** The index: every definition with its parameters and a form that creates a job. */
export function indexPage(services: ServiceEntry[], caller: Caller): string {
  const parts = [`<h1>uwsrun: UWS 1.1 services</h1>`, whoAmI(caller), `<p>${services.length} job list${services.length === 1 ? '' : 's'}, each a UWS 1.1 service (<a href="?FORMAT=json">the same as JSON</a>).</p>`];
  if (!services.length) parts.push('<p class="muted">No definitions.</p>');
  for (const s of services) {
    parts.push(`<h2 id="${e(s.name)}"><a href="${e(s.url)}">${e(s.name)}</a></h2>`);
    if (s.description) parts.push(`<p>${e(s.description)}</p>`);
    const rows = s.parameters.map((p) => `<tr><td><code>${e(p.name)}</code></td><td>${e(p.type)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${orDash(valueText(p.default))}</td><td>${orDash(p.description)}</td></tr>`);
    parts.push(rows.length
      ? `<table><tr><th>parameter</th><th>type</th><th>required</th><th>default</th><th>description</th></tr>\n${rows.join('\n')}\n</table>`
      : '<p class="muted">No parameters.</p>');
    const fields = s.parameters.map((p) => `<label>${e(p.name)} <input name="${e(p.name)}" value="${e(valueText(p.default))}"${p.required ? ' required' : ''}></label> `);
    parts.push(`<form method="post" action="${e(s.url)}">${fields.join('')}<label><input type="checkbox" name="PHASE" value="RUN" checked> run at once</label> <button type="submit">create job</button></form>`);
  }
  return page('uwsrun services', parts.join('\n'));
}

/** A job list: ids (linked), phases, times, run ids. */
export function jobsPage(definition: string, jobs: JobRecord[], base: string, caller: Caller): string {
  const rows = jobs.map((j) => `<tr><td class="id"><a href="${e(jobUrl(base, j))}">${e(j.jobId)}</a></td><td>${phaseSpan(j.phase)}</td><td>${orDash(j.runId)}</td><td>${orDash(j.ownerId)}</td><td>${e(j.creationTime)}</td><td>${orDash(j.startTime)}</td><td>${orDash(j.endTime)}</td></tr>`);
  const body = [
    `<nav><a href="${e(base)}/">all services</a></nav>`,
    `<h1>Jobs of ${e(definition)}</h1>`,
    whoAmI(caller),
    `<p>${jobs.length} job${jobs.length === 1 ? '' : 's'} (<a href="${e(serviceUrl(base, definition))}?FORMAT=xml">as UWS XML</a>).</p>`,
    jobs.length
      ? `<table><tr><th>job</th><th>phase</th><th>run id</th><th>owner</th><th>created (UTC)</th><th>started</th><th>ended</th></tr>\n${rows.join('\n')}\n</table>`
      : '<p class="muted">No jobs.</p>',
  ];
  return page(`${definition}: jobs`, body.join('\n'), jobs.some((j) => !isFinal(j.phase)) ? 5 : undefined);
}

const isFinal = (phase: string): boolean => (FINAL_PHASES as readonly string[]).includes(phase);

const button = (action: string, name: string, value: string, label: string): string =>
  `<form class="inline" method="post" action="${e(action)}"><input type="hidden" name="${e(name)}" value="${e(value)}"><button type="submit">${e(label)}</button></form>`;

/** One job: phase, times, limits, parameters, error, results and links. */
export function jobPage(job: JobRecord, base: string, caller: Caller): string {
  const urls = { jobs: serviceUrl(base, job.definition), job: jobUrl(base, job), result: (id: string) => resultUrl(base, job, id) };
  const facts: [string, string][] = [
    ['phase', phaseSpan(job.phase)],
    ['job id', `<span class="id">${e(job.jobId)}</span>`],
    ['run id', orDash(job.runId)],
    ['owner', orDash(job.ownerId)],
    ['definition', `<a href="${e(urls.jobs)}">${e(job.definition)}</a>`],
    ['created', e(job.creationTime)],
    ['started', orDash(job.startTime)],
    ['ended', orDash(job.endTime)],
    ['quote', orDash(job.quote)],
    ['execution duration', job.executionDuration ? `${job.executionDuration} s` : 'unlimited'],
    ['destruction', orDash(job.destruction)],
    ['exit code', job.exitCode === null ? orDash(job.signal) : `${job.exitCode}${job.signal ? ` (${e(job.signal)})` : ''}`],
  ];
  const params = Object.entries(job.parameters).map(([k, v]) => `<tr><td><code>${e(k)}</code></td><td>${e(valueText(job.paramText?.[k] ?? v))}</td></tr>`);
  const results = job.results.map((r) => `<tr><td><a href="${e(urls.result(r.id))}">${e(r.id)}</a></td><td>${e(r.mimeType)}</td><td>${r.size}</td></tr>`);
  const actions: string[] = [];
  if (job.phase === 'PENDING') actions.push(button(`${urls.job}/phase`, 'PHASE', 'RUN', 'run'));
  if (!isFinal(job.phase)) actions.push(button(`${urls.job}/phase`, 'PHASE', 'ABORT', 'abort'));
  actions.push(button(urls.job, 'ACTION', 'DELETE', 'delete'));
  const body = [
    `<nav><a href="${e(base)}/">all services</a><a href="${e(urls.jobs)}">jobs of ${e(job.definition)}</a></nav>`,
    `<h1>Job <span class="id">${e(job.jobId)}</span>: ${phaseSpan(job.phase)}</h1>`,
    whoAmI(caller),
    `<table>\n${facts.map(([k, v]) => `<tr><th>${e(k)}</th><td>${v}</td></tr>`).join('\n')}\n</table>`,
    job.errorSummary ? `<h2>Error (${e(job.errorSummary.type)})</h2>\n<pre>${e(job.errorSummary.message)}</pre>\n<p><a href="${e(urls.job)}/error">error details</a></p>` : '',
    `<h2>Parameters</h2>`,
    params.length ? `<table><tr><th>name</th><th>value</th></tr>\n${params.join('\n')}\n</table>` : '<p class="muted">No parameters.</p>',
    `<h2>Results</h2>`,
    results.length ? `<table><tr><th>result</th><th>type</th><th>bytes</th></tr>\n${results.join('\n')}\n</table>` : '<p class="muted">No results.</p>',
    `<h2>Links</h2>`,
    `<p><a href="${e(urls.job)}/stdout">stdout</a> <a href="${e(urls.job)}/stderr">stderr</a> <a href="${e(urls.job)}?FORMAT=xml">UWS XML</a> <a href="${e(urls.job)}/results">results (XML)</a> <a href="${e(urls.job)}/parameters">parameters (XML)</a></p>`,
    `<p>${actions.join('')}</p>`,
  ];
  return page(`job ${job.jobId}: ${job.phase}`, body.filter(Boolean).join('\n'), isFinal(job.phase) ? undefined : 3);
}

htmlPages.index = indexPage;
htmlPages.jobList = jobsPage;
htmlPages.job = jobPage;
