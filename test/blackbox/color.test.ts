// Black-box: when output for people is coloured. On a terminal (a pseudo-terminal from
// util-linux `script`) colours appear unless --no-color, NO_COLOR or TERM=dumb says no;
// FORCE_COLOR forces them, also into a pipe, and FORCE_COLOR=0 refuses them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, hasScript, runOnTty, submitJob } from '../helpers.js';

const ESC = '\x1b[';
const coloured = (text: string): boolean => text.includes(ESC);

test('colours: a terminal gets them unless --no-color, NO_COLOR or TERM=dumb; FORCE_COLOR forces or refuses', { skip: hasScript() ? false : 'util-linux script is not installed' }, () => {
  const sb = new Sandbox();
  try {
    submitJob(sb, ['hello']);
    const tty = (args: string[], env: NodeJS.ProcessEnv) => runOnTty(sb, args, { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm', ...env });
    assert.ok(coloured(tty(['list'], {})), 'a terminal gets colours');
    assert.ok(!coloured(tty(['list'], { TERM: 'dumb' })), 'TERM=dumb: none');
    assert.ok(!coloured(tty(['list'], { NO_COLOR: '1' })), 'NO_COLOR: none');
    assert.ok(!coloured(tty(['list', '--no-color'], {})), '--no-color: none');
    assert.ok(!coloured(tty(['list'], { FORCE_COLOR: '0' })), 'FORCE_COLOR=0: none');
    assert.ok(!coloured(tty(['list'], { FORCE_COLOR: 'false' })), 'FORCE_COLOR=false: none');
    assert.ok(coloured(tty(['list'], { FORCE_COLOR: '1', TERM: 'dumb' })), 'FORCE_COLOR outranks TERM=dumb');
    assert.ok(coloured(tty(['list'], { FORCE_COLOR: '1', NO_COLOR: '1' })), 'FORCE_COLOR outranks NO_COLOR, as in Node');
    assert.ok(!coloured(tty(['list', '--no-color'], { FORCE_COLOR: '1' })), '--no-color outranks FORCE_COLOR');

    const pipe = (env: NodeJS.ProcessEnv) => {
      const r = sb.run(['list'], { NO_COLOR: undefined, TERM: 'xterm', ...env });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.ok(!coloured(pipe({})), 'a pipe gets no colours');
    assert.ok(coloured(pipe({ FORCE_COLOR: '1' })), 'FORCE_COLOR=1: colours into a pipe');
    assert.ok(coloured(pipe({ FORCE_COLOR: '' })), 'FORCE_COLOR set but empty forces too (as chalk reads it)');
    assert.ok(coloured(pipe({ FORCE_COLOR: '1', TERM: 'dumb' })), 'forced even with TERM=dumb');
  } finally {
    sb.cleanup();
  }
});

test('wait on a TERM=dumb terminal draws no status line (it would need escape sequences)', { skip: hasScript() ? false : 'util-linux script is not installed' }, () => {
  const sb = new Sandbox('jobs:\n  nap:\n    command: [sleep, "1"]\n');
  try {
    // The control: on another terminal the same wait does redraw its line.
    const xterm = runOnTty(sb, ['wait', submitJob(sb, ['nap', '--run'])], { TERM: 'xterm', NO_COLOR: undefined });
    assert.match(xterm, /\x1b\[2Kwaiting \d+s: /, `a status line on xterm: ${JSON.stringify(xterm)}`);
    const dumb = runOnTty(sb, ['wait', submitJob(sb, ['nap', '--run'])], { TERM: 'dumb', NO_COLOR: undefined });
    assert.ok(!dumb.includes('\x1b'), `no escape sequence: ${JSON.stringify(dumb)}`);
  } finally {
    sb.cleanup();
  }
});
