// Who is asking (SPEC §12): every request resolves to a Caller through resolveCaller, the one
// place identity is decided, and every job a request touches passes mayAccess, the one place
// ownership is decided. A non-admin caller sees and acts on only jobs whose ownerId is its
// name; jobs it creates get its name as ownerId. With --no-auth every caller is the HOME's
// OS user with an admin's rights (serve refuses --no-auth on anything but loopback).
// Without --no-auth a request needs credentials (Bearer TOKEN, or Basic NAME:TOKEN) that the
// token store (tokens.ts, made by `uwsrun token`) accepts at the time of the request; else
// it is answered 401 with a challenge for both schemes.

import type { IncomingMessage } from 'node:http';
import type { JobRecord } from '../core/job.js';
import { HttpError } from './http-error.js';
import { verify } from './tokens.js';

export interface Caller {
  name: string;
  admin: boolean;
}

export interface CallerConfig {
  /** --no-auth: every caller is `osUser`, admin. */
  noAuth: boolean;
  /** The HOME's OS user, owner of jobs submitted with the CLI. */
  osUser: string;
  /** The HOME whose token file (HOME/tokens.json) says who may call. */
  home: string;
}

/**
 * One WWW-Authenticate header per scheme: RFC 7235 allows both in one header, but browsers
 * (Chromium) read only the first challenge of a header, and would never offer Basic.
 */
export const AUTH_CHALLENGES = ['Bearer realm="uwsrun"', 'Basic realm="uwsrun", charset="UTF-8"'];

const unauthorized = (message: string): HttpError => new HttpError(401, message, { 'WWW-Authenticate': AUTH_CHALLENGES });

/** The caller of `req`; throws 401 when it has no valid credentials. */
export function resolveCaller(req: IncomingMessage, config: CallerConfig): Caller {
  if (config.noAuth) return { name: config.osUser, admin: true };
  const header = req.headers.authorization;
  if (!header) throw unauthorized('authentication required: send Authorization: Bearer TOKEN (or Basic NAME:TOKEN); `uwsrun token create NAME` makes a token');
  const caller = verify(config.home, header);
  if (!caller) throw unauthorized('invalid credentials: unknown or revoked token, or a Basic user name that is not the token\'s NAME');
  return caller;
}

/** Whether `caller` may see and act on `job`. */
export const mayAccess = (caller: Caller, job: Pick<JobRecord, 'ownerId'>): boolean => caller.admin || job.ownerId === caller.name;
