// Black-box: `uwsrun completion bash|zsh`. The bash script is sourced in a real bash and its
// function is driven the way bash's programmable completion drives it (COMP_WORDS split as
// bash splits a line: at spaces and at "=", COMP_CWORD the word under the cursor); the zsh
// script is checked by `zsh -n` and its candidate function is run in a real zsh with
// $words/$CURRENT set as the completion system sets them. Then both are used as people use
// them: an interactive bash (readline, `complete -F`) and an interactive zsh (compinit) on a
// pseudo-terminal, with Tab typed. Definition names and job ids come from uwsrun itself at
// completion time, so they follow -f, $UWSRUN_JOBS, --home.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dirname } from 'node:path';
import { BIN, Sandbox, hasScript, submitJob } from '../helpers.js';

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const hasZsh = spawnSync('sh', ['-c', 'command -v zsh']).status === 0;

let sb: Sandbox;
let bashFile = '';
let zshFile = '';

before(() => {
  sb = new Sandbox();
  const bash = sb.run(['completion', 'bash']);
  assert.equal(bash.code, 0, bash.stderr);
  bashFile = join(sb.dir, 'uwsrun.bash');
  writeFileSync(bashFile, bash.stdout);
  const zsh = sb.run(['completion', 'zsh']);
  assert.equal(zsh.code, 0, zsh.stderr);
  zshFile = join(sb.dir, '_uwsrun');
  writeFileSync(zshFile, zsh.stdout);
});

after(() => sb.cleanup());

/** COMPREPLY of the bash script for a line already split into words; the last word is under the cursor. */
function bashComplete(words: string[], env: NodeJS.ProcessEnv = sb.env): string[] {
  const script = [
    `source ${shQuote(bashFile)}`,
    `COMP_WORDS=(${[BIN, ...words].map(shQuote).join(' ')})`,
    `COMP_CWORD=${words.length}`,
    '_uwsrun',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { env, cwd: sb.dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `bash: ${r.stderr}`);
  assert.equal(r.stderr, '', 'the script writes nothing on stderr');
  return r.stdout.split('\n').filter((l) => l !== '').sort();
}

/** What the zsh script's candidate function offers: [kind, ...words]. */
function zshComplete(words: string[], env: NodeJS.ProcessEnv = sb.env): string[] {
  const script = [
    `source ${shQuote(zshFile)}`,
    `words=(${[BIN, ...words].map(shQuote).join(' ')})`,
    `CURRENT=${words.length + 1}`,
    '__uwsrun_candidates',
  ].join('\n');
  const r = spawnSync('zsh', ['-f', '-c', script], { env, cwd: sb.dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `zsh: ${r.stderr}`);
  assert.equal(r.stderr, '', 'the script writes nothing on stderr');
  const [kind, ...rest] = r.stdout.split('\n').filter((l) => l !== '');
  return [kind ?? '', ...rest.sort()];
}

let other: { home: string; id: string } | undefined;

/** Another HOME with a jobs.yaml of its own and one job (made once). */
function otherHome(): { home: string; id: string } {
  if (other) return other;
  const home = join(sb.dir, 'other-home');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'jobs.yaml'), 'jobs:\n  fromhome:\n    command: ["true"]\n');
  const env = { UWSRUN_HOME: undefined, UWSRUN_JOBS: undefined };
  const r = sb.run(['--home', home, 'submit', 'fromhome'], env);
  assert.equal(r.code, 0, r.stderr);
  other = { home, id: r.stdout.trim() };
  return other;
}

describe('bash completion', () => {
  test('commands, and options of uwsrun and of each command', () => {
    const commands = bashComplete(['']);
    for (const c of ['submit', 'run', 'abort', 'delete', 'list', 'show', 'wait', 'logs', 'set', 'tick', 'doctor', 'completion']) {
      assert.ok(commands.includes(c), `command ${c} offered: ${commands.join(' ')}`);
    }
    assert.ok(!commands.some((c) => c.startsWith('__')), 'internal commands are not offered');
    assert.deepEqual(bashComplete(['su']), ['submit']);
    assert.deepEqual(bashComplete(['submit', '--ru']), ['--run', '--run-id']);
    const showOptions = bashComplete(['show', '-']);
    for (const o of ['--json', '--xml', '--home', '-q', '--help']) assert.ok(showOptions.includes(o), `show offers ${o}: ${showOptions.join(' ')}`);
    assert.ok(!showOptions.includes('--run'), 'show does not offer submit options');
    assert.ok(bashComplete(['--']).includes('--version'), 'uwsrun itself offers --version');
  });

  test('definition names from $UWSRUN_JOBS, -f FILE (also --file=FILE) or HOME/jobs.yaml', () => {
    assert.deepEqual(bashComplete(['submit', '']), ['hello', 'reduce', 'wrap']);
    assert.deepEqual(bashComplete(['submit', 're']), ['reduce']);
    writeFileSync(join(sb.dir, 'other.yaml'), 'jobs:\n  nightly:\n    command: ["true"]\n  weekly:\n    command: ["true"]\n');
    assert.deepEqual(bashComplete(['submit', '-f', 'other.yaml', '']), ['nightly', 'weekly']);
    assert.deepEqual(bashComplete(['submit', '--file', '=', join(sb.dir, 'other.yaml'), 'w']), ['weekly']);
    assert.deepEqual(bashComplete(['list', '--definition', 'n'], { ...sb.env, UWSRUN_JOBS: join(sb.dir, 'other.yaml') }), ['nightly']);
    const { home } = otherHome();
    const noJobsEnv = { ...sb.env, UWSRUN_JOBS: undefined };
    assert.deepEqual(bashComplete(['--home', home, 'submit', ''], noJobsEnv), ['fromhome']);
    assert.deepEqual(bashComplete(['submit', '-f', 'missing.yaml', '']), [], 'a missing file offers nothing, quietly');
  });

  test('job ids of the HOME, and of the --home given on the line', () => {
    const a = submitJob(sb, ['hello']);
    const b = submitJob(sb, ['hello']);
    const ids = bashComplete(['show', '']);
    assert.ok(ids.includes(a) && ids.includes(b), `both ids: ${ids.join(' ')}`);
    assert.deepEqual(bashComplete(['abort', a.slice(0, 5)]), [a, b].filter((id) => id.startsWith(a.slice(0, 5))).sort());
    assert.ok(bashComplete(['wait', a, '']).includes(b), 'wait takes several ids');
    assert.deepEqual(bashComplete(['show', a, '']), [], 'show takes one id');
    assert.deepEqual(bashComplete(['logs', '--stderr', a.slice(0, 6)]).includes(a), true, 'after an option without a value');
    const { home, id } = otherHome();
    assert.deepEqual(bashComplete(['--home', home, 'show', '']), [id]);
    assert.deepEqual(bashComplete(['show', '--home', '=', home, '']), [id], '--home=DIR after the command');
    assert.deepEqual(bashComplete(['--home', '~/other-home', 'show', '']), [id], '~ is $HOME (the sandbox directory)');
    assert.deepEqual(bashComplete(['--home', `'${home}'`, 'show', '']), [id], 'a quoted directory');
  });

  test('option values: phases, shells, files and directories; a free value offers nothing', () => {
    const phases = bashComplete(['list', '--phase', '']);
    for (const p of ['PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED']) assert.ok(phases.includes(p), `phase ${p}: ${phases}`);
    assert.deepEqual(bashComplete(['list', '--phase', 'EX']), ['EXECUTING']);
    assert.deepEqual(bashComplete(['completion', '']), ['bash', 'zsh']);
    mkdirSync(join(sb.dir, 'homes-dir'));
    writeFileSync(join(sb.dir, 'homes-file'), '');
    assert.deepEqual(bashComplete(['--home', 'homes-']), ['homes-dir']);
    assert.deepEqual(bashComplete(['validate', 'homes-']), ['homes-dir', 'homes-file']);
    assert.deepEqual(bashComplete(['submit', 'hello', '--run-id', '']), []);
    assert.deepEqual(bashComplete(['submit', 'hello', '-p', 'name', '=', 'Ada', '']), [], 'NAME=VALUE counts as one word');
  });
});

describe('zsh completion', { skip: hasZsh ? false : 'zsh is not installed (.ci/run installs it)' }, () => {
  test('the script parses (zsh -n) and offers commands, options, definitions, ids and values', () => {
    const syntax = spawnSync('zsh', ['-n', zshFile], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const commands = zshComplete(['']);
    assert.equal(commands[0], 'list');
    assert.ok(commands.includes('submit') && commands.includes('completion') && !commands.includes('__complete'), commands.join(' '));
    assert.deepEqual(zshComplete(['submit', '--ru']).filter((w) => w.startsWith('--ru')), ['--run', '--run-id']);
    assert.deepEqual(zshComplete(['submit', '']), ['list', 'hello', 'reduce', 'wrap']);
    writeFileSync(join(sb.dir, 'z.yaml'), 'jobs:\n  zeta:\n    command: ["true"]\n');
    assert.deepEqual(zshComplete(['submit', `--file=${join(sb.dir, 'z.yaml')}`, '']), ['list', 'zeta']);
    const id = submitJob(sb, ['hello']);
    assert.ok(zshComplete(['show', '']).includes(id));
    const { home, id: otherId } = otherHome();
    assert.deepEqual(zshComplete(['--home', home, 'phase', '']), ['list', otherId]);
    assert.deepEqual(zshComplete(['--home', '~/other-home', 'phase', '']), ['list', otherId]);
    assert.ok(zshComplete(['list', '--phase', '']).includes('EXECUTING'));
    assert.deepEqual(zshComplete(['--home', '']), ['dir']);
    assert.deepEqual(zshComplete(['validate', '']), ['file']);
  });
});

describe('bash completion in an interactive bash', { skip: hasScript() ? false : 'needs util-linux script' }, () => {
  test('readline completes a command, a definition name and a job id at Tab through complete -F', () => {
    const id = submitJob(sb, ['hello']);
    const rc = join(sb.dir, 'bashrc');
    writeFileSync(rc, `PATH=${shQuote(dirname(BIN))}:$PATH\nsource ${shQuote(bashFile)}\nPS1='> '\n`);
    // As for zsh below: type ahead, Tab, then Ctrl-A and `echo MARK ` so Enter prints the completed line.
    const typed = `uwsrun sub\tre\t\x01echo LINE1 \n`
      + `uwsrun show ${id.slice(0, -1)}\t\x01echo LINE2 \n`
      + 'exit\n';
    const r = spawnSync('script', ['-qec', `bash --noprofile --rcfile ${shQuote(rc)} -i`, '/dev/null'], {
      env: { ...sb.env, TERM: 'dumb', INPUTRC: '/dev/null' }, input: typed, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(r.status, 0, `bash: ${r.stdout}${r.stderr}`);
    const lines = r.stdout.split(/\r?\n/).map((l) => l.replace(/\r/g, '').trim());
    assert.ok(lines.includes('LINE1 uwsrun submit reduce'), `sub<Tab> re<Tab>: ${JSON.stringify(r.stdout)}`);
    assert.ok(lines.includes(`LINE2 uwsrun show ${id}`), `a job id prefix<Tab>: ${JSON.stringify(r.stdout)}`);
  });
});

describe('zsh completion in the completion system', { skip: hasZsh && hasScript() ? false : 'needs zsh and util-linux script' }, () => {
  test('an interactive zsh with compinit completes a command, a definition name and a job id at Tab', () => {
    const id = submitJob(sb, ['hello']);
    const zdotdir = join(sb.dir, 'zdotdir');
    mkdirSync(zdotdir, { recursive: true });
    writeFileSync(join(zdotdir, '.zshrc'), [
      `PATH=${shQuote(dirname(BIN))}:$PATH`,
      `autoload -U compinit && compinit -u -d ${shQuote(join(zdotdir, '.zcompdump'))}`,
      `source ${shQuote(zshFile)}`,
      "PS1='> '",
      '',
    ].join('\n'));
    // Typed ahead into the terminal: a word, Tab; then Ctrl-A and `print -r -- MARK ` in
    // front of the completed line, so that Enter prints the line as completion left it.
    const typed = `uwsrun sub\tre\t\x01print -r -- LINE1 \n`
      + `uwsrun show ${id.slice(0, -1)}\t\x01print -r -- LINE2 \n`
      + 'exit\n';
    const r = spawnSync('script', ['-qec', 'zsh -i', '/dev/null'], {
      env: { ...sb.env, ZDOTDIR: zdotdir, TERM: 'dumb' }, input: typed, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(r.status, 0, `zsh: ${r.stdout}${r.stderr}`);
    const lines = r.stdout.split(/\r?\n/).map((l) => l.replace(/\r/g, '').trim());
    assert.ok(lines.includes('LINE1 uwsrun submit reduce'), `sub<Tab> re<Tab>: ${JSON.stringify(r.stdout)}`);
    assert.ok(lines.includes(`LINE2 uwsrun show ${id}`), `a job id prefix<Tab>: ${JSON.stringify(r.stdout)}`);
  });
});
