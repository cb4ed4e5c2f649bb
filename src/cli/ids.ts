// Commands that take several IDs act on every one, report each failure on stderr, and exit
// with the highest code (SPEC §9).

import { checkJobId } from '../core/job.js';
import { EXIT, UserError } from '../errors.js';

export function reportError(err: unknown): number {
  if (err instanceof UserError) {
    process.stderr.write(`uwsrun: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    return err.exitCode;
  }
  process.stderr.write(`uwsrun: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.internal;
}

export async function forEachId<T>(ids: string[], act: (jobId: string) => T | Promise<T>): Promise<{ code: number; done: T[] }> {
  let code = 0;
  const done: T[] = [];
  for (const id of ids) {
    try {
      done.push(await act(checkJobId(id)));
    } catch (err) {
      code = Math.max(code, reportError(err));
    }
  }
  return { code, done };
}
