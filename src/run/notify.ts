// Notifications (SPEC §13): a definition's `notify: {command, on}` runs once when a job
// reaches one of the `on` phases (its final phase: an attempt that is retried is not one).
//
// Exactly once, through a claim:
//   1. The transaction that makes the job final claims the notification (store/state.ts
//      Transaction.finish): the record gets `notified` (when) and state.json's `notifying`
//      names the claimant (pid + process start time). One write: an end is never recorded
//      without its claim, and a job that is final once is claimed once.
//   2. Once the lock is released, the claimant spawns notify.pl, which first creates
//      records/ID/notified (O_EXCL) and runs the notifier only if it created it: "sent".
//      The claim is dropped by the next sweep.
//   3. A sweep (every runner cycle, every `tick`) resolves claims: `notified` there -> done;
//      claimant alive -> its spawn is on the way; claimant dead without the marker -> it
//      died between claim and spawn (or just after), and the sweeper claims it again and
//      sends it. Should the first notify.pl be alive after all, the exclusive create lets
//      only one of the two run the notifier.
// So a runner or command killed -9 at any moment neither loses a notification nor sends it
// twice. (Only a notify.pl killed between creating the marker and exec'ing the notifier,
// microseconds, loses one: it runs detached, so the death of its sender does not kill it.)
//
// The notifier runs detached (its own session), as argv without a shell, with the
// placeholders of `command` plus {phase}, the job's environment plus UWS_PHASE,
// UWS_EXIT_CODE and UWS_ERROR_SUMMARY, stdin /dev/null, stdout and stderr appended to
// HOME/notify.log, in the job's cwd (HOME when that is gone). Nobody waits for it: it is
// started through notify.pl, which waits for it and tells runner.log when it failed. A
// notifier that fails or hangs changes no job and delays nothing.

import { closeSync, existsSync, openSync } from 'node:fs';
import type { JobRecord } from '../core/job.js';
import { substituteCommand } from '../definitions/substitute.js';
import type { HomeLayout } from '../store/home.js';
import { type Transaction, setNotifier } from '../store/state.js';
import { beingDeleted } from '../core/deleting.js';
import { isProcessAlive } from './proc.js';
import { appendRunnerLog } from './runner-log.js';
import NOTIFY_PL from './notify.pl';

/** As for the launcher (executors/local/launcher.ts): perl-base is Essential on Debian. */
const PERL = '/usr/bin/perl';

/** Sends in progress in this process; a runner about to exit waits for them. */
const inFlight = new Set<Promise<void>>();

export function notificationsInFlight(): Promise<void> {
  return Promise.all(inFlight).then(() => {});
}

/** The argv of a job's notifier: its placeholders filled in (a parameter without a value gives ''). */
export function notifierArgv(job: JobRecord): string[] {
  const notify = job.definitionSnapshot.notify!;
  const vars: Record<string, string> = {};
  for (const name of Object.keys(job.definitionSnapshot.parameters ?? {})) vars[name] = '';
  Object.assign(vars, job.paramText);
  const jobDir = job.env.UWS_JOB_DIR ?? '';
  Object.assign(vars, { jobId: job.jobId, jobDir, resultsDir: job.env.UWS_RESULTS_DIR ?? '', phase: job.phase });
  return substituteCommand(notify.command, vars);
}

/** The job's environment plus what tells the notifier how the job ended. */
export function notifierEnv(job: JobRecord): Record<string, string> {
  return {
    ...job.env,
    UWS_PHASE: job.phase,
    UWS_EXIT_CODE: job.exitCode === null ? '' : String(job.exitCode),
    UWS_ERROR_SUMMARY: job.errorSummary?.message ?? '',
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The job's cwd, or HOME when it is gone or on its way out: a job deleted while active is
 * notified as ABORTED once its abort is committed, a moment before the delete removes its
 * directory (its `deleting` marker is there from the start, core/deleting.ts). A notifier
 * started in it would lose its working directory under it (sh: getcwd() failed).
 */
function notifierCwd(layout: HomeLayout, job: JobRecord): string {
  const jobDir = layout.jobDir(job.jobId);
  const inJobDir = job.cwd === jobDir || job.cwd.startsWith(`${jobDir}/`);
  if (inJobDir && beingDeleted(layout, job.jobId)) return layout.dir;
  return existsSync(job.cwd) ? job.cwd : layout.dir;
}

async function send(layout: HomeLayout, job: JobRecord): Promise<void> {
  // Tests only: a pause between claim and spawn, so a test can kill the sender there.
  const hold = Number(process.env.UWSRUN_TEST_NOTIFY_HOLD_MS) || 0;
  if (hold > 0) await sleep(hold);
  const marker = layout.notifiedMarker(job.jobId);
  if (existsSync(marker)) return;
  let argv: string[];
  try {
    argv = notifierArgv(job);
  } catch (err) {
    appendRunnerLog(layout, `job ${job.jobId}: notification (${job.phase}) failed: ${(err as Error).message}`);
    return;
  }
  const { spawn } = await import('node:child_process');
  let out: number | 'ignore' = 'ignore';
  try {
    out = openSync(layout.notifyLog, 'a', 0o600);
  } catch (err) {
    appendRunnerLog(layout, `job ${job.jobId}: cannot open ${layout.notifyLog}: ${(err as NodeJS.ErrnoException).code}; the notifier's output is lost`);
  }
  let pid: number | undefined;
  try {
    const child = spawn(PERL, ['-e', NOTIFY_PL, '--', layout.runnerLog, job.jobId, job.phase, marker, ...argv], {
      detached: true,
      stdio: ['ignore', out, out],
      env: notifierEnv(job),
      cwd: notifierCwd(layout, job),
    });
    child.on('error', (err) => appendRunnerLog(layout, `job ${job.jobId}: notification (${job.phase}) failed: cannot start perl: ${err.message}`));
    child.unref();
    pid = child.pid;
  } finally {
    if (out !== 'ignore') closeSync(out);
  }
  appendRunnerLog(layout, `job ${job.jobId}: notification (${job.phase}) sent: ${argv[0]} (pid ${pid ?? '?'})`);
}

/** Spawns a claimed notification once the claimant released the lock (registered with the store). */
export function sendNotification(layout: HomeLayout, job: JobRecord): void {
  const p = send(layout, job)
    .catch((err: Error) => appendRunnerLog(layout, `job ${job.jobId}: notification (${job.phase}) failed: ${err.message}`))
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
}

setNotifier(sendNotification);

/**
 * Resolves the claims in state.json (see the top): done ones are dropped, those of a
 * claimant that died before spawning are claimed again by this process and sent once the
 * lock is released. Returns what it did, for runner.log.
 */
export function resumeNotifications(tx: Transaction): string[] {
  const claims = tx.state.notifying;
  if (!claims) return [];
  const lines: string[] = [];
  for (const [id, claim] of Object.entries(claims)) {
    if (existsSync(tx.layout.notifiedMarker(id))) {
      delete claims[id];
      continue;
    }
    if (isProcessAlive(claim.pid, claim.pidStart)) continue;
    const job = tx.getJob(id);
    if (!job || !job.notified) {
      delete claims[id];
      continue;
    }
    lines.push(`job ${id}: the notification claimed by process ${claim.pid} was never sent (it died): sending it now`);
    tx.claimNotification(job);
  }
  if (Object.keys(claims).length === 0) delete tx.state.notifying;
  return lines;
}
