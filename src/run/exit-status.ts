// How the wrapper's `exit` file says how a job's command ended (see wrapper.ts):
// "exit N", "signal N", or "error MESSAGE" when the command could not even be started;
// then, when the command left processes that the wrapper had to terminate, a second line
// "left PID (COMM), ...". Blanks only (the file as the launcher creates it): no status yet.

import { constants } from 'node:os';

export type EndStatus =
  | { exitCode: number | null; signal: string | null; error?: undefined; left?: string }
  | { exitCode: null; signal: null; error: string; left?: string };

export function parseExitFile(text: string): EndStatus | undefined {
  const [first = '', second] = text.trim().split('\n');
  const line = first.trim();
  const left = second?.startsWith('left ') ? { left: second.slice(5).trim() } : {};
  let m = /^exit (\d+)$/.exec(line);
  if (m) return { exitCode: Number(m[1]), signal: null, ...left };
  m = /^signal (\d+)$/.exec(line);
  if (m) return { exitCode: null, signal: signalName(Number(m[1])), ...left };
  m = /^error (.+)$/.exec(line);
  if (m) return { exitCode: null, signal: null, error: m[1]!, ...left };
  return undefined;
}

export function signalName(num: number): string {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name;
  return `SIG${num}`;
}
