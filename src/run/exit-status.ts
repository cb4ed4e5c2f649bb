// How the wrapper's `exit` file encodes a job's end (see wrapper.ts).

import { constants } from 'node:os';

/** Decodes the wrapper's `exit` file text: sh reports death by signal N as 128+N. */
export function decodeExitStatus(status: number): { exitCode: number | null; signal: string | null } {
  if (status > 128 && status < 128 + 65) {
    return { exitCode: null, signal: signalName(status - 128) };
  }
  return { exitCode: status, signal: null };
}

export function signalName(num: number): string {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name;
  return `SIG${num}`;
}
