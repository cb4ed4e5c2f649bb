import { join } from 'node:path';
import type { Context } from './context.js';

/** `-f FILE`, else $UWSRUN_JOBS, else HOME/jobs.yaml (SPEC §9). */
export function definitionsPath(ctx: Context, file: string | undefined): string {
  return file ?? process.env.UWSRUN_JOBS ?? join(ctx.store.home, 'jobs.yaml');
}
