// Every failure a user can cause is a UserError: a one-line message written for that user and
// the exit code SPEC §9 assigns to it. Anything else that escapes is a bug and exits 70.

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  noSuchJob: 3,
  notAllowed: 4,
  store: 5,
  timeout: 124,
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Several problems found at once (every error of a definitions file), one line each;
     * `message` is then the first of them. */
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const usageError = (message: string): UserError => new UserError(message, EXIT.usage);
/** Exit 2 for several problems at once, each reported on its own line. */
export const usageErrors = (problems: readonly string[]): UserError => new UserError(problems[0]!, EXIT.usage, problems);
export const noSuchJob = (jobId: string): UserError => new UserError(`no such job: ${jobId}`, EXIT.noSuchJob);
export const storeError = (message: string): UserError => new UserError(message, EXIT.store);

/**
 * One job's record (HOME/records/ID/job.json) cannot be parsed: exit 5 for a command about
 * that job; commands about all jobs (list, tick, doctor, the runner) catch it by its class,
 * name the job and go on with the others, and `delete` removes it (SPEC §8).
 */
export class DamagedRecordError extends UserError {
  constructor(
    readonly jobId: string,
    readonly file: string,
  ) {
    super(`job record ${file} is damaged (not JSON); run \`uwsrun delete ${jobId}\` to remove the job`, EXIT.store);
  }

  /** The one line that list and doctor print for it. */
  get line(): string {
    return `job ${this.jobId}: its record ${this.file} is damaged (not JSON); \`uwsrun delete ${this.jobId}\` removes it`;
  }
}

/**
 * A record directory without its job.json (and no submit in progress that may be writing
 * it): named by list and doctor beside the damaged ones; never thrown by a read, which finds
 * no such job.
 */
export class MissingRecordError extends DamagedRecordError {
  override get line(): string {
    return `job ${this.jobId}: its record ${this.file} is missing; \`uwsrun delete ${this.jobId}\` removes the job`;
  }
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EEXIST: 'it exists already',
  ENOTEMPTY: 'the directory is not empty',
  EROFS: 'the file system is read-only',
  EIO: 'an input/output error',
};

/** A failed file operation in words (`no such file`), for messages that name the file. */
export function fsProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  return (code && ERRNO_WORDS[code]) ?? (code ? `error ${code}` : String((err as Error)?.message ?? err));
}
