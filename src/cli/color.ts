// Whether output for people gets colours. The conventions, in order of precedence:
// --no-color always wins; FORCE_COLOR as Node and chalk read it (0 or false: never;
// anything else, even empty: always, also into a pipe or file); NO_COLOR set and not empty:
// never; TERM=dumb (a terminal that understands no escape sequences): never; otherwise only
// when stdout is a terminal. FORCE_COLOR outranks NO_COLOR as it does in Node itself.
// isTTY is asked last, and only if needed: looking at process.stdout loads the stream
// machinery (~3 ms), which a command that colours nothing should not pay for.

export function colorWanted(option: boolean, isTTY: () => boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!option) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTTY();
}
