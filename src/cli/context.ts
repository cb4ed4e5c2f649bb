// What every command gets: the store of the chosen HOME, the output mode, and the two
// channels (data on stdout; messages for people on stderr, silenced by -q except errors).

import type { Command } from 'commander';
import { resolveHome } from '../store/home.js';
import { Store } from '../store/state.js';
import { usageError } from '../errors.js';
import { colorWanted } from './color.js';
import { printableLines } from './printable.js';
import { writeOut } from './stdout.js';

export interface GlobalOptions {
  home?: string;
  json?: boolean;
  xml?: boolean;
  color?: boolean;
  quiet?: boolean;
}

/** The machine outputs a command offers; any other is refused, never silently ignored. */
export interface Outputs {
  json?: boolean;
  xml?: boolean;
}

export class Context {
  readonly store: Store;
  readonly json: boolean;
  readonly xml: boolean;
  readonly quiet: boolean;

  constructor(opts: GlobalOptions) {
    if (opts.json && opts.xml) throw usageError('--json and --xml cannot be used together');
    this.store = new Store(resolveHome(opts));
    this.json = Boolean(opts.json);
    this.xml = Boolean(opts.xml);
    this.quiet = Boolean(opts.quiet);
    this.colorOption = opts.color !== false;
  }

  private readonly colorOption: boolean;

  /** Colours for people (see color.ts); asked only by commands that print for people. */
  get color(): boolean {
    return colorWanted(this.colorOption, () => Boolean(process.stdout.isTTY));
  }

  /**
   * The context of a command. `--json` and `--xml` are global options (accepted before or
   * after the command), so commander takes them everywhere: a command that does not offer
   * one refuses it here (exit 2), before anything is read or written.
   */
  static of(cmd: Command, outputs: Outputs = {}): Context {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    if (opts.json && opts.xml) throw usageError('--json and --xml cannot be used together');
    if (opts.xml && !outputs.xml) throw usageError(`${cmd.name()} does not take --xml (only show, list and results print UWS XML)`);
    if (opts.json && !outputs.json) throw usageError(`${cmd.name()} does not take --json`);
    return new Context(opts);
  }

  /** Data, on stdout. */
  out(text: string): void {
    writeOut(text.endsWith('\n') ? text : `${text}\n`);
  }

  outJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  /** A message for people, on stderr; -q silences it. */
  info(text: string): void {
    if (!this.quiet) process.stderr.write(`${printableLines(text)}\n`);
  }

  /** Something went wrong that the exit code alone would hide (a waited-for job failed):
   * on stderr as `uwsrun: ...`, also with -q, which silences only information. */
  problem(text: string): void {
    process.stderr.write(`uwsrun: ${printableLines(text)}\n`);
  }
}
