// Seq numbers and queue places for the server's creations, reserved ahead, so that a
// creation's files are written and synced before the lock is taken and its turn at the lock
// is only the state's read-modify-write (core/submit.ts writeReservedJobs). A job's seq and
// queue place are in its record and in its queue entry's name, and both are given out
// under the lock; so the server reserves a block of them once, as a big submit does
// (state.batches: the jobs of a reservation are invisible and their queue entries are not
// started), gives them to its creations in memory, and each group commit shrinks the
// reservation past the jobs it commits (the reservation gets a new name each time, so the
// runner lists HOME/queue/ again). While nobody else has taken places since, the same
// commit tops the block up, so a stream of creations costs one short lock turn per group.
//
// Order: before a flush uses the block, the server reads state.json (no lock): when anyone
// else has given out a seq or a queue place since the block was reserved (a CLI submit,
// `run`, a retry), the block's rest is given back and a new one is reserved above theirs.
// So a creation that begins after a CLI job was reported queued is queued after it; only
// creations already under way while it was submitted (concurrent, in either order) may
// come before it. A reservation that survives a server killed -9 is one of a dead process:
// `tick` removes its invisible files and drops it (run/housekeeping.ts dropDeadBatches),
// and until then its queue entries are not started. An idle server gives its block back
// after IDLE_MS, and at stop: `delete` of a job whose record vanished and the report of a
// missing record wait for no submit in progress (any reservation), which an idle server
// must not keep up.

import { claimant, type Store, type SubmitBatch, type Transaction } from '../store/state.js';
import type { ReservedPlace } from '../core/submit.js';
import { storeError } from '../errors.js';
import { withStateLock } from './writes.js';

/** Places reserved at a time (seq numbers, and as many queue places). */
const BLOCK = 64;
/**
 * A server that created nothing for this long gives its reservation back
 * (UWSRUN_SERVE_BLOCK_IDLE_MS, for tests that hold the lock after a pause: a block given
 * back meanwhile would make their next creation wait for that lock to reserve another).
 */
const IDLE_MS = Number(process.env.UWSRUN_SERVE_BLOCK_IDLE_MS) || 2_000;

/** The reservation as this process last committed it: its name in state.batches, and its range. */
interface Held {
  name: string | undefined;
  block: SubmitBatch | undefined;
}

export class ReservedPlaces {
  private held: Held = { name: undefined, block: undefined };
  /** The next places to give (from the block's seqFrom / queueFrom on). */
  private nextSeq = 0;
  private nextQueue = 0;
  private renames = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Flushes using the block: from ensure until their commit (done). */
  private users = 0;
  private releasing: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /**
   * Makes sure the reservation has `n` seq numbers and `q` queue places left and nobody has
   * given out places since it was reserved (see the top comment): else one lock turn gives
   * its rest back and reserves a new block, but only when `mayRenew` (no flush of this
   * server is waiting for its commit: giving the block back would make its places visible
   * before its files are durable); false then, and nothing is taken.
   */
  async ensure(n: number, q: number, mayRenew = true): Promise<boolean> {
    clearTimeout(this.idleTimer);
    if (this.releasing) await this.releasing;
    if (this.usable(n, q)) {
      this.users++;
      return true;
    }
    if (!mayRenew) return false;
    this.users++;
    try {
      this.adopt(await withStateLock(this.store, () => this.store.update((tx) => this.reserve(tx, n, q), true)));
    } catch (err) {
      this.done();
      throw err;
    }
    return true;
  }

  /** The next places, in order (after ensure). */
  take(run: boolean): ReservedPlace {
    return { seq: this.nextSeq++, queuedAt: run ? this.nextQueue++ : null };
  }

  /** The first seq number and queue place that take() has not given yet. */
  nextPlaces(): { seqEnd: number; queueEnd: number } {
    return { seqEnd: this.nextSeq, queueEnd: this.nextQueue };
  }

  /**
   * In the transaction that commits the places taken before seqEnd / queueEnd (those of
   * flushes in flight after them stay reserved): the reservation shrinks past them (they
   * become visible with this state write) and, while nobody else took places meanwhile, is
   * topped up to a whole block. Returns what to call once that transaction is committed (a
   * transaction that fails leaves the reservation as it was).
   */
  commit(tx: Transaction, seqEnd: number, queueEnd: number): () => void {
    const { name, block } = this.held;
    const now = name === undefined ? undefined : tx.state.batches[name];
    if (!now || !block || now.seqTo !== block.seqTo || now.queueTo !== block.queueTo) {
      throw storeError(`the server's reservation of job numbers ${name ?? ''} has gone from ${tx.layout.stateFile}`);
    }
    const next: SubmitBatch = { ...now, seqFrom: seqEnd, queueFrom: queueEnd };
    const st = tx.state;
    if (st.seq === now.seqTo && st.queueSeq === now.queueTo && next.seqTo - next.seqFrom < BLOCK / 2 && tx.store.indexedSeqs() <= now.seqTo) {
      next.seqTo = next.seqFrom + BLOCK - 1;
      next.queueTo = next.queueFrom + BLOCK - 1;
      st.seq = next.seqTo;
      st.queueSeq = next.queueTo;
    }
    const held = this.put(tx, name, next);
    // Places taken beyond seqEnd (flushes still in flight) are not given again.
    return () => this.adopt(held, true);
  }

  /** A flush is done with the block (committed or not): once none uses it, it rests, and goes back once idle. */
  done(): void {
    this.users = Math.max(0, this.users - 1);
    clearTimeout(this.idleTimer);
    if (this.users === 0 && this.held.name !== undefined) this.idleTimer = setTimeout(() => void this.release(), IDLE_MS).unref();
  }

  /** Gives the reservation back (idle, stopping); at most `ms` spent waiting for the lock. */
  release(ms = 10_000): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.users > 0 || this.held.name === undefined) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    this.releasing ??= Promise.race([
      withStateLock(this.store, () => this.store.update((tx) => this.giveBack(tx), true)).then((held) => this.adopt(held)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]).catch(() => { /* left for the next flush, or for tick once this process is gone */ }).finally(() => {
      clearTimeout(timer);
      this.releasing = undefined;
    });
    return this.releasing;
  }

  /**
   * What a committed transaction made of the reservation; the next places are its first,
   * or (`keep`: a commit of part of what was taken) those not given yet.
   */
  private adopt(held: Held, keep = false): void {
    this.held = held;
    if (!held.block) return;
    this.nextSeq = keep ? Math.max(this.nextSeq, held.block.seqFrom) : held.block.seqFrom;
    this.nextQueue = keep ? Math.max(this.nextQueue, held.block.queueFrom) : held.block.queueFrom;
  }

  private usable(n: number, q: number): boolean {
    const { name, block } = this.held;
    if (name === undefined || !block) return false;
    const state = this.store.readState();
    const now = state.batches[name];
    return now !== undefined && now.seqFrom === block.seqFrom && now.seqTo === block.seqTo && now.queueTo === block.queueTo
      && state.seq === now.seqTo && state.queueSeq === now.queueTo
      && now.seqTo - this.nextSeq + 1 >= n && now.queueTo - this.nextQueue + 1 >= q;
  }

  /** A new block of at least n seq numbers and q queue places, above every place given. */
  private reserve(tx: Transaction, n: number, q: number): Held {
    this.giveBack(tx);
    const st = tx.state;
    const seqFrom = Math.max(st.seq, tx.store.indexedSeqs()) + 1;
    const block: SubmitBatch = {
      ...claimant(),
      seqFrom,
      seqTo: seqFrom + Math.max(BLOCK, n) - 1,
      queueFrom: st.queueSeq + 1,
      queueTo: st.queueSeq + Math.max(BLOCK, q),
    };
    st.seq = block.seqTo;
    st.queueSeq = block.queueTo;
    return this.put(tx, undefined, block);
  }

  /**
   * Drops the reservation from the state in hand; its places never taken go back to the
   * counters when nobody has given out places above them since.
   */
  private giveBack(tx: Transaction): Held {
    const { name } = this.held;
    const now = name === undefined ? undefined : tx.state.batches[name];
    if (now) {
      delete tx.state.batches[name!];
      const st = tx.state;
      // Never a place taken (its files may have been written), even by a flush that failed.
      const seqFrom = Math.max(now.seqFrom, this.nextSeq);
      const queueFrom = Math.max(now.queueFrom, this.nextQueue);
      if (st.seq === now.seqTo && st.queueSeq === now.queueTo && tx.store.indexedSeqs() < seqFrom) {
        st.seq = seqFrom - 1;
        st.queueSeq = queueFrom - 1;
      }
    }
    return { name: undefined, block: undefined };
  }

  /** The reservation under a new name (so the runner's queue revision changes); none when used up. */
  private put(tx: Transaction, old: string | undefined, block: SubmitBatch): Held {
    if (old !== undefined) delete tx.state.batches[old];
    if (block.seqFrom > block.seqTo) return { name: undefined, block: undefined };
    let name = `${block.pid}-serve-${(++this.renames).toString(36)}`;
    while (tx.state.batches[name]) name += 'x';
    tx.state.batches[name] = block;
    return { name, block };
  }
}
