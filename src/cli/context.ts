// What every command gets: the store of the chosen HOME, the output mode, and the two
// channels (data on stdout; messages for people on stderr, silenced by -q except errors).

import type { Command } from 'commander';
import { resolveHome } from '../store/home.js';
import { Store } from '../store/state.js';
import { usageError } from '../errors.js';

export interface GlobalOptions {
  home?: string;
  json?: boolean;
  xml?: boolean;
  color?: boolean;
  quiet?: boolean;
}

export class Context {
  readonly store: Store;
  readonly json: boolean;
  readonly xml: boolean;
  readonly quiet: boolean;
  readonly color: boolean;

  constructor(opts: GlobalOptions) {
    if (opts.json && opts.xml) throw usageError('--json and --xml cannot be used together');
    this.store = new Store(resolveHome(opts));
    this.json = Boolean(opts.json);
    this.xml = Boolean(opts.xml);
    this.quiet = Boolean(opts.quiet);
    this.color = opts.color !== false && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') && Boolean(process.stdout.isTTY);
  }

  static of(cmd: Command): Context {
    return new Context(cmd.optsWithGlobals<GlobalOptions>());
  }

  /** Data, on stdout. */
  out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  outJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  /** A message for people, on stderr; -q silences it. */
  info(text: string): void {
    if (!this.quiet) process.stderr.write(`${text}\n`);
  }
}
