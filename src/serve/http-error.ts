// How a refusal becomes an HTTP answer (SPEC §12): every error a user can cause is a
// UserError with a CLI exit code, and each exit code has one status here (2 -> 400, 3 -> 404,
// 4 -> 403, 5 -> 503); the server's own refusals (401, 404 of a path, 405, 413) are HttpErrors.
// The body is the message, one text/plain line naming the culprit. The CLI's messages name
// its options (`--phase: unknown phase ...`); over HTTP the culprit is the form field, so
// the option names are replaced by the field names in one table.

import { EXIT, UserError } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string | string[]> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
export const forbidden = (message: string): HttpError => new HttpError(403, message);
export const methodNotAllowed = (method: string, path: string, allow: readonly string[]): HttpError =>
  new HttpError(405, `method ${method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, { Allow: allow.join(', ') });

const STATUS_OF_EXIT: Partial<Record<number, number>> = {
  [EXIT.usage]: 400,
  [EXIT.noSuchJob]: 404,
  [EXIT.notAllowed]: 403,
  [EXIT.store]: 503,
};

/** CLI option names in messages, and the form field each stands for over HTTP. */
const FIELD_OF_OPTION: [RegExp, string][] = [
  [/--phase\b/g, 'PHASE'],
  [/--after\b/g, 'AFTER'],
  [/--last\b/g, 'LAST'],
  [/--execution-duration\b/g, 'EXECUTIONDURATION'],
  [/--destruction\b/g, 'DESTRUCTION'],
  [/--run-id\b/g, 'RUNID'],
];

const inFieldNames = (message: string): string => FIELD_OF_OPTION.reduce((m, [re, field]) => m.replace(re, field), message);

/** The HTTP form of an error, or undefined when it is not one a user caused (then: 500). */
export function httpErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof UserError) {
    const status = STATUS_OF_EXIT[err.exitCode];
    if (status !== undefined) return new HttpError(status, inFieldNames(err.message.split('\n')[0]!));
  }
  return undefined;
}
