// `uwsrun completion bash|zsh` prints a completion script (the scripts are files of their
// own next to this one, bundled as text) with the table of commands and options filled in.
// At Tab the script calls back `uwsrun __complete defs|ids` (hidden): definition names of
// the definitions file the line would use, job ids of its HOME. Both must answer fast and
// never fail loudly: they read the definitions cache and the job directories, take no
// lock, and print nothing at all on any error (the script discards stderr anyway).

import { readdirSync } from 'node:fs';
import { Argument, type Command } from 'commander';
import { Context } from '../context.js';
import { definitionsPath } from '../definitions-file.js';
import { isJobId } from '../../core/job.js';
import { loadDefinitionsCached } from '../../definitions/cached.js';
import { completionTable } from './table.js';
import bashScript from './uwsrun.bash';
import zshScript from './uwsrun.zsh';

const lines = (ctx: Context, words: string[]): void => {
  if (words.length > 0) ctx.out(words.join('\n'));
};

const SCRIPTS: Record<string, string> = { bash: bashScript, zsh: zshScript };

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, options, definition names, job ids)')
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SCRIPTS)))
    .action(async (shell: string, _flags: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      // The table is of the whole program, not only of the group loaded for this command.
      const { buildProgram } = await import('../program.js');
      const table = completionTable(await buildProgram([]));
      ctx.out(SCRIPTS[shell]!.replace('@TABLE@', () => table));
    });

  program
    .command('__complete', { hidden: true })
    .argument('<what>', 'defs or ids')
    .argument('[prefix]', 'ids: only those starting with it')
    .option('-f, --file <file>', 'definitions file')
    .action(async (what: string, prefix: string | undefined, flags: { file?: string }, cmd: Command) => {
      try {
        const ctx = Context.of(cmd);
        if (what === 'defs') {
          const layout = ctx.store.layout;
          const defs = await loadDefinitionsCached(definitionsPath(ctx, flags.file), layout.exists() ? layout.cacheDir : null);
          lines(ctx, Object.keys(defs.jobs));
        } else if (what === 'ids') {
          // Directory names, not records: cheap with any number of jobs. Record directories
          // (HOME/records/ID): a job that never started has no job directory. A job still
          // being created may show up a moment early; `tick` removes one that never completes.
          const ids = readdirSync(ctx.store.layout.recordsDir).filter((id) => isJobId(id) && id.startsWith(prefix ?? '')).sort();
          lines(ctx, ids);
        }
      } catch {
        // Nothing to offer.
      }
    });
}
