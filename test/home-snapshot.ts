// "Nothing changed on disk": a snapshot of every file under a HOME (path -> content), taken
// once no runner is left to write, so a refused command can be shown to have changed nothing.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Sandbox, waitFor } from './helpers.js';
import { stateOrEmpty } from './runner-state.js';

/** runner.log grows with what runners say; the lock file comes and goes with each command. */
const IGNORED = new Set(['runner.log', 'state.lock', 'state.lock.want']);

export function homeSnapshot(sb: Sandbox): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(sb.home)) return files;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(sb.home, path);
      if (IGNORED.has(rel)) continue;
      const st = statSync(path);
      if (st.isDirectory()) {
        files.set(`${rel}/`, '');
        walk(path);
      } else {
        files.set(rel, readFileSync(path, 'latin1'));
      }
    }
  };
  walk(sb.home);
  return files;
}

/** Waits until the HOME has no runner (it exits when idle), so nothing writes meanwhile. */
export async function quietHome(sb: Sandbox): Promise<Map<string, string>> {
  await waitFor('the runner to exit (idle)', () => stateOrEmpty(sb).runner === null, 25_000);
  return homeSnapshot(sb);
}
