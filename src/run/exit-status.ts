// How the wrapper's `exit` file says how a job's command ended (see wrapper.ts):
// "exit N", "signal N", or "error MESSAGE" when the command could not even be started.

import { constants } from 'node:os';

export type EndStatus =
  | { exitCode: number | null; signal: string | null; error?: undefined }
  | { exitCode: null; signal: null; error: string };

export function parseExitFile(text: string): EndStatus | undefined {
  const line = text.trim();
  let m = /^exit (\d+)$/.exec(line);
  if (m) return { exitCode: Number(m[1]), signal: null };
  m = /^signal (\d+)$/.exec(line);
  if (m) return { exitCode: null, signal: signalName(Number(m[1])) };
  m = /^error (.+)$/s.exec(line);
  if (m) return { exitCode: null, signal: null, error: m[1]! };
  return undefined;
}

export function signalName(num: number): string {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name;
  return `SIG${num}`;
}
