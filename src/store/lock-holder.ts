// Who holds the state lock, in words, for the message of a command that gave up waiting for
// it (exit 5). The lock file holds the holder's pid and process start time (lock.ts); the
// holder's command line comes from /proc/PID/cmdline, read only when the start time still
// matches, so a pid that was reused never names an unrelated program. uwsrun's own processes
// (`node .../uwsrun.cjs submit ...`) are named as a user would type them (`uwsrun submit ...`).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { processStartTime } from '../run/proc.js';

/** Command lines longer than this are cut, so the message stays one readable line. */
const MAX_COMMAND = 160;

/** The command line of `pid` as words, or undefined when it cannot be read. */
export function commandLineOf(pid: number): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  if (argv[argv.length - 1] === '') argv.pop();
  if (argv.length === 0) return undefined; // a zombie, or a kernel thread
  // node BUNDLE ARGS...: show it as the uwsrun command it is.
  const script = argv.findIndex((a, i) => i > 0 && /^uwsrun(\.cjs)?$/.test(basename(a)));
  if (script > 0 && /^node/.test(basename(argv[0]!))) argv = ['uwsrun', ...argv.slice(script + 1)];
  const text = argv.join(' ');
  return text.length > MAX_COMMAND ? `${text.slice(0, MAX_COMMAND - 3)}...` : text;
}

/** "process 1234 (uwsrun submit hello)", or what is known of the holder of the lock at `lockFile`. */
export function describeLockHolder(lockFile: string): string {
  let content: string;
  try {
    content = readFileSync(lockFile, 'utf8').trim();
  } catch {
    return 'another process (the lock has just been released)';
  }
  const match = /^(\d+) (\d+)$/.exec(content);
  if (!match) return 'a process that has not written its identity into the lock yet';
  const pid = Number(match[1]);
  if (processStartTime(pid) !== match[2]) return `process ${pid}, which has just ended`;
  const command = commandLineOf(pid);
  return command ? `process ${pid} (${command})` : `process ${pid}`;
}
