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

/** Whether a runner process of this HOME is alive (`... __runner --home HOME` in /proc). */
export function runnerProcessAlive(sb: Sandbox): boolean {
  const wanted = `\0__runner\0--home\0${sb.home}\0`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(wanted)) return true;
    } catch { /* gone meanwhile */ }
  }
  return false;
}

/**
 * Waits until the HOME has no runner (it exits when idle) and its process is gone: the
 * runner's last transaction is still writing the good copy after state.json says it left.
 */
export async function quietHome(sb: Sandbox): Promise<Map<string, string>> {
  await waitFor('the runner to exit (idle)', () => stateOrEmpty(sb).runner === null && !runnerProcessAlive(sb), 25_000);
  return homeSnapshot(sb);
}
