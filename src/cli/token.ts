// `token create NAME [--admin]`, `token list`, `token revoke NAME`: the API tokens of
// `uwsrun serve` (SPEC §12). One command with the action as its first argument, so the
// completion table offers the three actions. The store is serve/tokens.ts.

import type { Command } from 'commander';
import { Context } from './context.js';
import { table } from './format.js';
import { createToken, listTokens, revokeToken } from '../serve/tokens.js';
import { usageError } from '../errors.js';

const ACTIONS = ['create', 'list', 'revoke'] as const;
type Action = (typeof ACTIONS)[number];

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('API tokens of `uwsrun serve`: create NAME [--admin] (prints the token once), list, revoke NAME')
    .argument('<action>', `${ACTIONS.join(', ')}`)
    .argument('[name]', 'the token\'s name: the owner of the jobs it creates, and the user name of HTTP Basic')
    .option('--admin', 'with create: the token sees and acts on every job, not only its own')
    .action((action: string, name: string | undefined, flags: { admin?: boolean }, cmd: Command) => {
      if (!(ACTIONS as readonly string[]).includes(action)) {
        throw usageError(`token: unknown action ${JSON.stringify(action)}; use create NAME [--admin], list or revoke NAME`);
      }
      const act = action as Action;
      if (flags.admin && act !== 'create') throw usageError(`token ${act} does not take --admin (only token create does)`);
      if (act === 'list' && name !== undefined) throw usageError('token list takes no name');
      if (act !== 'list' && name === undefined) throw usageError(`token ${act} needs a NAME: uwsrun token ${act} NAME`);
      const ctx = Context.of(cmd, { json: true });
      const home = ctx.store.home;
      if (act === 'create') {
        const made = createToken(home, name!, Boolean(flags.admin));
        if (ctx.json) ctx.outJson({ ...made.info, token: made.token });
        else ctx.out(made.token);
        ctx.info(`token ${name}${made.info.admin ? ' (admin)' : ''} created; it is shown only this once: keep it`);
      } else if (act === 'revoke') {
        const gone = revokeToken(home, name!);
        if (ctx.json) ctx.outJson(gone);
        else ctx.info(`token ${name} revoked`);
      } else {
        const tokens = listTokens(home);
        if (ctx.json) ctx.outJson(tokens);
        else if (tokens.length) ctx.out(table(['NAME', 'ADMIN', 'CREATED (UTC)'], tokens.map((t) => [t.name, t.admin ? 'yes' : 'no', t.created.replace('T', ' ').slice(0, 19)])));
        else ctx.info('no tokens; create one with `uwsrun token create NAME`');
      }
    });
}
