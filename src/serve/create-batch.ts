// Group commit of job creation over HTTP. Creating a job costs about ten fsyncs (its
// record, its directory, the index, the queue entry, the state: store/durable.ts), and
// they run on the server's one thread: on a loaded machine ~25 ms a job, so clients that
// create at once would wait for each other's syncs one by one. submitJobs creates any
// number of jobs with the same syncs (the --params-from path), so creations that arrive
// while another is being written, or within the same turn of the event loop, are written
// together: same definition and same options (run, runId, executionDuration,
// destruction, owner) make one submitJobs call, each request still gets its own job.
//
// How: a create joins the open batch of its key, or opens one; one writer loop takes all
// open batches at its turn and submits each under the state lock (writes.ts), while the
// next creations collect in new batches. Parameters are checked per request before (a bad
// one is that request's 400 alone); if a batch of several fails as a whole, each of its
// requests is tried again on its own, so one request's failure is never another's.

import type { JobRecord } from '../core/job.js';
import { type SubmitOptions, submitJobs } from '../core/submit.js';
import type { ResolvedParameters } from '../definitions/params.js';
import type { Definition } from '../definitions/schema.js';
import type { Store } from '../store/state.js';
import { withStateLock } from './writes.js';

/** Jobs written in one go at most (a bound on one turn's work, not a limit on clients). */
const MAX_BATCH = 256;

interface Item {
  params: ResolvedParameters;
  resolve: (job: JobRecord) => void;
  reject: (err: unknown) => void;
}

interface Batch {
  def: Definition;
  opts: SubmitOptions;
  items: Item[];
}

class CreateBatcher {
  /** Open batches by definition object (a reloaded YAML is a new object) and options. */
  private open = new Map<Definition, Map<string, Batch>>();
  private writing = false;

  constructor(private readonly store: Store) {}

  create(def: Definition, params: ResolvedParameters, opts: SubmitOptions): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      const key = JSON.stringify([opts.run, opts.runId, opts.executionDuration, opts.destruction, opts.ownerId, opts.unique]);
      let byKey = this.open.get(def);
      if (!byKey) this.open.set(def, (byKey = new Map()));
      let batch = byKey.get(key);
      if (!batch || batch.items.length >= MAX_BATCH) byKey.set(key, (batch = { def, opts, items: [] }));
      batch.items.push({ params, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // The rest of this turn's requests join before the first write.
        setImmediate(() => void this.writeAll());
      }
    });
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.open.size) {
        const batches = [...this.open.values()].flatMap((m) => [...m.values()]);
        this.open.clear();
        for (const batch of batches) await this.write(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(batch: Batch): Promise<void> {
    try {
      const jobs = await withStateLock(this.store, () => submitJobs(this.store, batch.def, batch.items.map((i) => i.params), batch.opts));
      batch.items.forEach((item, i) => item.resolve(jobs[i]!));
    } catch (err) {
      if (batch.items.length === 1) {
        batch.items[0]!.reject(err);
        return;
      }
      for (const item of batch.items) await this.write({ ...batch, items: [item] });
    }
  }
}

const batchers = new WeakMap<Store, CreateBatcher>();

/** Creates one job as submitJobs would, written together with the creations beside it. */
export function createJobBatched(store: Store, def: Definition, params: ResolvedParameters, opts: SubmitOptions): Promise<JobRecord> {
  let batcher = batchers.get(store);
  if (!batcher) batchers.set(store, (batcher = new CreateBatcher(store)));
  return batcher.create(def, params, opts);
}
