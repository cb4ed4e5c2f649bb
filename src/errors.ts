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
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const usageError = (message: string): UserError => new UserError(message, EXIT.usage);
export const noSuchJob = (jobId: string): UserError => new UserError(`no such job: ${jobId}`, EXIT.noSuchJob);
export const storeError = (message: string): UserError => new UserError(message, EXIT.store);
