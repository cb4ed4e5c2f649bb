// Handing a QUEUED job to Slurm (SPEC §11): one `sbatch --parsable` call, as argv, naming the
// batch script and, as its one argument, the job's record directory (hex, so no quoting can go
// wrong). The script is the wrapper's Perl (local/wrapper.pl) and the batch part (batch.pl),
// the same for every job: it is written once into HOME/cache/ under a name holding a hash of
// its text (sbatch copies a script's text at submission, so a later version never changes a
// job already handed over), and no job's script is piped through sbatch's stdin. What the
// command is and its environment the runner writes into RECORDS/request first (the launcher's
// format, NUL-separated), so no word of the job passes through a shell or through sbatch's
// options.
//
// At most once: the runner records that it decided to hand the job over (the hot entry's
// handoverAt) before it calls sbatch; a successor that finds that mark without a slurmJobId
// looks for the job in Slurm first (findHandedOver: squeue by the name uwsrun-JOBID, then the
// RECORDS/batch file the batch script writes when it runs), and hands it over only when
// neither knows it.

import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JobRecord } from '../../core/job.js';
import type { HomeLayout } from '../../store/home.js';
import { writeFileDurable } from '../../store/durable.js';
import { runSlurm, type SlurmResult } from './commands.js';
import WRAPPER from '../local/wrapper.pl';
import BATCH from './batch.pl';

export const slurmJobName = (jobId: string): string => `uwsrun-${jobId}`;

/** Slurm's time limit for an executionDuration (> 0): whole minutes, rounded up. */
export const slurmMinutes = (seconds: number): number => Math.ceil(seconds / 60);

/** The sbatch options for a job (the script and its argument follow them). */
export function sbatchArgs(layout: HomeLayout, job: JobRecord): string[] {
  const slurm = job.definitionSnapshot?.slurm ?? null;
  const args = [
    '--parsable',
    `--job-name=${slurmJobName(job.jobId)}`,
    `--chdir=${job.cwd}`,
    `--output=${layout.jobDir(job.jobId)}/stdout.log`,
    `--error=${layout.jobDir(job.jobId)}/stderr.log`,
    '--open-mode=append',
    '--no-requeue',
    '--export=NONE',
  ];
  // Slurm's limit only backs uwsrun's own, which is enforced to the second.
  if (job.executionDuration > 0) args.push(`--time=${slurmMinutes(job.executionDuration)}`);
  if (slurm?.partition) args.push(`--partition=${slurm.partition}`);
  if (slurm?.account) args.push(`--account=${slurm.account}`);
  args.push(...(slurm?.options ?? []));
  return args;
}

/** The batch script: the wrapper, the batch part, and the call naming the job's records. */
export const BATCH_SCRIPT = `#!/usr/bin/perl\n${WRAPPER}\n${BATCH}\nbatch(pack('H*', $ARGV[0] // ''));\n`;

const written = new Map<string, string>();

/** The batch script's file in HOME/cache/, written (durably) the first time this process needs it. */
export function batchScriptFile(layout: HomeLayout): string {
  let path = written.get(layout.dir);
  if (path) return path;
  const hash = createHash('sha256').update(BATCH_SCRIPT).digest('hex').slice(0, 16);
  path = join(layout.cacheDir, `slurm-batch-${hash}.pl`);
  let current = false;
  try {
    current = readFileSync(path, 'utf8') === BATCH_SCRIPT;
  } catch { /* not there yet */ }
  if (!current) {
    mkdirSync(layout.cacheDir, { recursive: true, mode: 0o700 });
    writeFileDurable(path, BATCH_SCRIPT);
  }
  written.set(layout.dir, path);
  return path;
}

/** The batch script's argument: the job's record directory, in hex. */
export const batchArgument = (layout: HomeLayout, jobId: string): string => Buffer.from(layout.recordDir(jobId)).toString('hex');

/**
 * The job's directory, made when it starts (core/submit.ts makes none): Slurm needs it
 * before the batch script runs, for --chdir (the default cwd) and --output/--error, and
 * the logs are created here 0600 (as the local wrapper does), not by slurmstepd under the
 * submitter's umask. Without following a symlink the job may have left (a retry): such a
 * log is Slurm's to open then.
 */
function makeJobDirectory(layout: HomeLayout, jobId: string): void {
  mkdirSync(layout.resultsDir(jobId), { recursive: true, mode: 0o700 });
  for (const log of [layout.stdoutLog(jobId), layout.stderrLog(jobId)]) {
    try {
      closeSync(openSync(log, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600));
    } catch { /* see above */ }
  }
}

/** The request the batch script reads: as the launcher's (local/launcher.ts). */
export function writeRequest(layout: HomeLayout, job: JobRecord): void {
  const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`);
  const fields = [job.jobId, layout.jobDir(job.jobId), layout.recordDir(job.jobId), job.cwd, String(job.holdStart ?? 0),
    String(job.killGrace), String(job.command.length), ...job.command, ...env];
  writeFileDurable(`${layout.recordDir(job.jobId)}/request`, fields.join('\0'));
}

export type Handover =
  | { kind: 'ok'; slurmJobId: string; found: boolean }
  | { kind: 'refused'; message: string }
  | { kind: 'outage'; message: string };

/**
 * Whether a job marked for handover is in Slurm already: by its name in squeue, or by the
 * id its batch script wrote when it ran (Slurm may have forgotten it since).
 */
export async function findHandedOver(layout: HomeLayout, jobId: string): Promise<Handover | undefined> {
  // An sbatch of a runner killed -9 runs on: only once it is gone does Slurm's answer count.
  const deadline = Date.now() + 30_000;
  while (sbatchRunning(jobId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const batchFile = `${layout.recordDir(jobId)}/batch`;
  if (existsSync(batchFile)) {
    const id = readFileSync(batchFile, 'utf8').trim();
    if (/^\d+$/.test(id)) return { kind: 'ok', slurmJobId: id, found: true };
  }
  const r = await runSlurm('squeue', ['-h', '-t', 'all', `--name=${slurmJobName(jobId)}`, '-o', '%i']);
  if (r.kind === 'outage') return r;
  if (r.kind === 'refused') return { kind: 'outage', message: `squeue: ${r.message}` };
  const ids = r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
  return ids.length > 0 ? { kind: 'ok', slurmJobId: ids[ids.length - 1]!, found: true } : undefined;
}

/** Whether an sbatch for this job is running (its argv names the job), found in /proc. */
export function sbatchRunning(jobId: string): boolean {
  const name = `--job-name=${slurmJobName(jobId)}`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(name)) return true;
    } catch { /* gone */ }
  }
  return false;
}

/** Hands the job over (after findHandedOver when it may have been handed over before). */
export async function handOver(layout: HomeLayout, job: JobRecord, lookFirst: boolean): Promise<Handover> {
  if (lookFirst) {
    const found = await findHandedOver(layout, job.jobId);
    if (found) return found;
  }
  makeJobDirectory(layout, job.jobId);
  writeRequest(layout, job);
  const r: SlurmResult = await runSlurm('sbatch', [...sbatchArgs(layout, job), batchScriptFile(layout), batchArgument(layout, job.jobId)]);
  if (r.kind !== 'ok') return r;
  const id = r.stdout.trim().split(';')[0]!;
  if (!/^\d+$/.test(id)) return { kind: 'refused', message: `sbatch printed no job id: ${JSON.stringify(r.stdout.slice(0, 200))}` };
  return { kind: 'ok', slurmJobId: id, found: false };
}
