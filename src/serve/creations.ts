// Job creation over HTTP, committed in groups. A submit costs mostly its durable writes
// (each job's record and directories synced with one state write, in one turn at the lock), and
// submitJobs makes many jobs of one definition for little more than one (--params-from
// does). While the server writes one creation its event loop is busy, so the requests of
// other clients that arrive meanwhile are read together in the next turn: each is queued
// here, and one setImmediate later every queued creation that can share a submit (same
// definition as loaded, same options: run or not, owner, executionDuration, no run id or
// destruction of its own) goes through one submitJobs call. A lone request waits for
// nothing but that turn. Only one flush is in flight at a time: the requests that arrive
// while it waits for the lock and writes collect for the next one, which starts the moment
// it is done, so a busy server makes a few big groups instead of many small ones that
// contend for the lock (each group costs one state transaction however big it is, up to
// core/submit.ts ONE_TURN_MAX jobs).
// submitJobs is all or nothing, so when a group is refused for bad input, each of its
// creations is tried alone and only the one at fault is refused.

import type { JobRecord } from '../core/job.js';
import { type ResolvedParameters, type SubmitOptions, submitJobs } from '../core/submit.js';
import type { Definition } from '../definitions/schema.js';
import type { Store } from '../store/state.js';
import { EXIT, UserError } from '../errors.js';
import { withStateLock } from './writes.js';

interface Creation {
  def: Definition;
  params: ResolvedParameters;
  opts: SubmitOptions;
  resolve: (job: JobRecord) => void;
  reject: (err: unknown) => void;
}

/** Creations that may share one submitJobs call have the same key (undefined: alone). */
function groupKey(c: Creation): string | undefined {
  if (c.opts.runId !== null || c.opts.destruction !== undefined || c.opts.unique) return undefined;
  return JSON.stringify([c.def.name, c.opts.run, c.opts.ownerId, c.opts.executionDuration ?? null]);
}

export class Creations {
  private queued: Creation[] = [];
  private scheduled = false;
  private flushing = false;

  constructor(private readonly store: Store) {}

  /** Creates one job; resolves once it exists (durably), as submitJobs does. */
  create(def: Definition, params: ResolvedParameters, opts: SubmitOptions): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      this.queued.push({ def, params, opts, resolve, reject });
      this.schedule();
    });
  }

  /** The next flush: one turn from now, or when the one in flight is done. */
  private schedule(): void {
    if (this.scheduled || this.flushing || this.queued.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = true;
      void this.flush().finally(() => {
        this.flushing = false;
        this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    const groups = new Map<string, Creation[]>();
    const alone: Creation[][] = [];
    for (const c of batch) {
      const key = groupKey(c);
      const group = key === undefined ? undefined : groups.get(key);
      // Only the same Definition object: a reload of the file meanwhile starts a new group.
      if (group && group[0]!.def === c.def) group.push(c);
      else if (key !== undefined && !group) groups.set(key, [c]);
      else alone.push([c]);
    }
    // All at once: their transactions take turns at the lock (writes.ts), and one group's
    // files are written while another's transaction runs.
    await Promise.all([...groups.values(), ...alone].map((group) => this.submit(group)));
  }

  private async submit(group: Creation[]): Promise<void> {
    const [first] = group;
    try {
      const jobs = await withStateLock(this.store, () => submitJobs(this.store, first!.def, group.map((c) => c.params), first!.opts));
      group.forEach((c, i) => c.resolve(jobs[i]!));
    } catch (err) {
      // Bad input of one (exit 2: a job beyond the system's bounds) is that one's; anything
      // else (the lock not obtained, a full disk) would fail each of them alike.
      const oneOfThem = err instanceof UserError && err.exitCode === EXIT.usage;
      if (group.length === 1 || !oneOfThem) {
        for (const c of group) c.reject(err);
        return;
      }
      for (const c of group) await this.submit([c]);
    }
  }
}
