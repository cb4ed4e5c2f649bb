// The documents the server answers with: those of SPEC §10 (uws/xml.ts, the CLI's renderer)
// with the base URL, so every xlink:href is absolute, plus what `show --xml` adds when it
// renders a job: errorSummary's hasDetail (stderr has content) and the quote of a QUEUED or
// EXECUTING job. The quote is estimated from every job's history (uws/quote.ts: O(jobs)),
// so the model is kept for QUOTE_MODEL_MS rather than rebuilt for every request.

import { statSync } from 'node:fs';
import type { JobRecord } from '../core/job.js';
import type { Store } from '../store/state.js';
import { QuoteModel } from '../uws/quote.js';
import { type XmlOptions, jobDocument, jobsDocument, parametersDocument, resultsDocument } from '../uws/xml.js';

const QUOTE_MODEL_MS = 5_000;

export class Documents {
  private model: { at: number; model: QuoteModel } | undefined;

  constructor(
    private readonly store: Store,
    readonly baseUrl: string,
  ) {}

  private get options(): XmlOptions {
    return { baseUrl: this.baseUrl, hasDetail: (j) => this.hasStderr(j.jobId) };
  }

  /** The job with its quote filled in (null unless QUEUED or EXECUTING). */
  withQuote(job: JobRecord): JobRecord {
    if (job.phase !== 'QUEUED' && job.phase !== 'EXECUTING') return job;
    const now = Date.now();
    if (!this.model || now - this.model.at > QUOTE_MODEL_MS) {
      const state = this.store.readState();
      const all = this.store.listJobs(state, []);
      this.model = { at: now, model: new QuoteModel(all, state.limit, new Date(now), (j) => j.queuedAt ?? state.jobs[j.jobId]?.queuedAt ?? 0) };
    }
    return { ...job, quote: this.model.model.quoteFor(job) };
  }

  job(job: JobRecord): string {
    return jobDocument(this.withQuote(job), this.options);
  }

  jobs(jobs: JobRecord[]): string {
    return jobsDocument(jobs, this.options);
  }

  results(job: JobRecord): string {
    return resultsDocument(job.results, this.options, job);
  }

  parameters(job: JobRecord): string {
    return parametersDocument(job);
  }

  private hasStderr(jobId: string): boolean {
    try {
      return statSync(this.store.layout.stderrLog(jobId)).size > 0;
    } catch {
      return false;
    }
  }
}
