// Black-box: the package as an operator gets it (SPEC §14). A copy of the source tree is
// packed with `npm pack` (its prepack build included), the tarball is installed with
// `npm install -g --prefix` offline and with an empty npm cache, and the installed `uwsrun`
// runs jobs from another directory with nothing of the clone in reach. The README's cron
// recipe is then run line by line the way cron runs a crontab.
// The copy is packed rather than this checkout, so that the build `npm pack` runs never
// replaces the bundle under the tests running beside this one.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ID_RE, ROOT } from '../helpers.js';

let dir = '';
let tarball = '';
let prefix = '';
let installed = '';

/** What PATH must hold besides the install's bin: the directory of `node`, unless cron's PATH has it. */
const nodeDir = dirname(process.execPath);
const nodeOnCronPath = ['/usr/bin', '/bin'].includes(nodeDir);

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000, ...opts }); // tsc under a heavy load
  if (r.error) throw r.error;
  return r;
}

/** Kills every process whose environment names one of this test's directories (runners, jobs). */
function killLeftovers(): void {
  run('sh', ['-c', `for p in /proc/[0-9]*; do if tr '\\0' '\\n' < $p/environ 2>/dev/null | grep -q -F -e "${dir}/"; then kill -9 \${p#/proc/} 2>/dev/null; fi; done; true`]);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'uwsrun-install-'));
  const src = join(dir, 'src');
  cpSync(ROOT, src, {
    recursive: true,
    filter: (path) => !['node_modules', 'build', 'dist', '.git'].includes(basename(path)) || dirname(path) !== ROOT,
  });
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const packed = join(dir, 'packed');
  mkdirSync(packed);
  const pack = run('npm', ['pack', '--pack-destination', packed], { cwd: src, env: { ...process.env, npm_config_cache: join(dir, 'npm-cache-pack') } });
  assert.equal(pack.status, 0, `npm pack: ${pack.stdout}${pack.stderr}`);
  const tgz = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `one tarball: ${tgz.join(', ')}`);
  tarball = join(packed, tgz[0]!);

  prefix = join(dir, 'prefix');
  // An empty npm cache and --offline: the install can only succeed if it needs nothing from a registry.
  const install = run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], {
    cwd: dir,
    env: { ...process.env, npm_config_cache: join(dir, 'npm-cache-empty') },
  });
  assert.equal(install.status, 0, `npm install -g --prefix: ${install.stdout}${install.stderr}`);
  assert.doesNotMatch(install.stderr, /warn/i, 'the install warns about nothing (no unrun install script)');
  installed = join(prefix, 'lib', 'node_modules', 'uwsrun');
});

after(() => {
  if (!dir) return;
  killLeftovers();
  rmSync(dir, { recursive: true, force: true });
});

/** cron's environment plus `extra`: no trace of the test runner's PATH, HOME or UWSRUN_*. */
function cronEnv(extra: Record<string, string>): string[] {
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const env = { PATH: '/usr/bin:/bin', HOME: home, SHELL: '/bin/sh', LOGNAME: 'root', ...extra };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Runs `sh -c line` under `env -i` with the given variables, from a directory outside the clone. */
function shell(line: string, vars: Record<string, string>, input = ''): SpawnSyncReturns<string> {
  const cwd = join(dir, 'elsewhere');
  mkdirSync(cwd, { recursive: true });
  return run('env', ['-i', ...cronEnv(vars), '/bin/sh', '-c', line], { cwd, input });
}

test('npm pack ships the bundle and what runs, nothing for development', () => {
  const list = run('tar', ['tzf', tarball]);
  assert.equal(list.status, 0, list.stderr);
  const files = list.stdout.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  assert.deepEqual(files, [
    'LICENSE', 'README.md', 'bin/package.json', 'bin/uwsrun', 'dist/uwsrun-execa.cjs', 'dist/uwsrun.cjs', 'dist/uwsrun.cjs.cache', 'dist/uwsrun.cjs.runner.cache', 'jobs.example.yaml', 'package.json',
  ]);
  assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} uwsrun developers\n/);
  assert.equal(existsSync(join(installed, 'node_modules')), false, 'no dependency was installed: the bundle holds them');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.equal(manifest.dependencies, undefined, 'the installed package declares no runtime dependency');
  // execa, for Slurm's commands, is a bundle of its own beside the main one: it loads from there.
  const execa = run(process.execPath, ['-e', `process.stdout.write(typeof require(${JSON.stringify(join(installed, 'dist', 'uwsrun-execa.cjs'))}).execa)`]);
  assert.equal(execa.stdout, 'function', execa.stderr);
  const main = readFileSync(join(installed, 'dist', 'uwsrun.cjs'), 'utf8');
  assert.ok(main.includes('require("./uwsrun-execa.cjs")'), 'the main bundle requires execa from beside it');
  assert.ok(!main.includes('Command failed with'), 'execa itself is not in the main bundle (every command would parse it)');
});

test('the installed uwsrun runs a job from another directory with a fresh HOME, no clone in reach', () => {
  const vars = { PATH: `${prefix}/bin:/usr/bin:/bin${nodeOnCronPath ? '' : `:${nodeDir}`}`, UWSRUN_RUNNER_IDLE_MS: '400' };
  const version = shell('uwsrun --version', vars);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);

  // No UWSRUN_HOME: the HOME is the default under $HOME (~/.local/state/uwsrun).
  const jobs = join(installed, 'jobs.example.yaml');
  const submit = shell(`uwsrun submit -f '${jobs}' hello -p name=Ada --wait`, vars);
  assert.equal(submit.status, 0, `submit --wait: ${submit.stderr}`);
  const id = submit.stdout.trim();
  assert.match(id, ID_RE);
  const logs = shell(`uwsrun logs ${id}`, vars);
  assert.equal(logs.status, 0, logs.stderr);
  assert.equal(logs.stdout, 'Hello, Ada!\n');
  assert.ok(statSync(join(dir, 'home', '.local', 'state', 'uwsrun', 'jobs', id)).isDirectory(), 'the job is in the default HOME');
});

const asRoot = process.getuid?.() === 0;

test('a stale code cache is replaced, and a read-only install runs without one', { skip: asRoot ? false : 'needs root for unshare -m and mount' }, () => {
  const vars = { PATH: `${prefix}/bin:/usr/bin:/bin${nodeOnCronPath ? '' : `:${nodeDir}`}`, UWSRUN_HOME: join(dir, 'ro-home'), UWSRUN_RUNNER_IDLE_MS: '400' };
  const cache = join(installed, 'dist', 'uwsrun.cjs.cache');
  writeFileSync(cache, 'not a V8 code cache');
  const stale = shell('uwsrun --version', vars);
  assert.equal(stale.status, 0, stale.stderr);
  assert.notEqual(readFileSync(cache, 'utf8').slice(0, 19), 'not a V8 code cache', 'the rejected cache was rewritten');

  // root writes through permission bits, so the install is made read-only by a read-only
  // bind mount in a mount namespace of its own; the caches (the commands' and the runner's)
  // are removed first so that uwsrun and its runner want to write them.
  rmSync(cache);
  rmSync(join(installed, 'dist', 'uwsrun.cjs.runner.cache'));
  const jobs = join(installed, 'jobs.example.yaml');
  const line = `mount --bind '${prefix}' '${prefix}' && mount -o remount,bind,ro '${prefix}' && `
    + `if touch '${installed}/dist/probe' 2>/dev/null; then echo writable; exit 9; fi && `
    + `uwsrun submit -f '${jobs}' hello -p name=RO --wait && ls '${installed}/dist'`;
  const ro = run('unshare', ['-m', 'env', '-i', ...cronEnv(vars), '/bin/sh', '-c', line], { cwd: dir });
  assert.equal(ro.status, 0, `read-only install: ${ro.stdout}${ro.stderr}`);
  const [id, ...listing] = ro.stdout.trim().split('\n');
  assert.match(id!, ID_RE);
  assert.deepEqual(listing, ['uwsrun-execa.cjs', 'uwsrun.cjs'], 'no cache (nor temp file) could be written');
  assert.equal(ro.stderr, '', 'no complaint about the cache');
  assert.equal(readFileSync(join(dir, 'ro-home', 'jobs', id!, 'stdout.log'), 'utf8'), 'Hello, RO!\n');
});

/** The lines of the ```cron block in the README's "Running from cron" section. */
function readmeCrontab(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Running from cron'));
  const block = /```cron\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the README has a cron block under "Running from cron"');
  return block[1]!.split('\n');
}

/** What cron makes of a command (crontab(5)): `\%` is a percent sign, an unescaped `%` ends the command and the rest is stdin. */
function cronCommand(text: string): { command: string; input: string } {
  const parts = text.split(/(?<!\\)%/);
  const unescape = (s: string) => s.replace(/\\%/g, '%');
  return { command: unescape(parts[0]!), input: parts.slice(1).map(unescape).join('\n') };
}

test("the README's cron recipe works as written under cron's environment (env -i PATH=/usr/bin:/bin)", () => {
  const srv = join(dir, 'srv');
  mkdirSync(join(srv, 'pipeline'), { recursive: true });
  writeFileSync(join(srv, 'pipeline', 'jobs.yaml'), readFileSync(join(installed, 'jobs.example.yaml')));
  // The README's paths, moved into the test's directory: /srv is a temporary directory and
  // /usr/local/bin (the directory of uwsrun and node) is the install's bin.
  const local = (text: string) => text.replace(/\/srv\//g, `${srv}/`);
  const vars: Record<string, string> = {};
  const commands: string[] = [];
  for (const line of readmeCrontab()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (assignment) {
      let value = local(assignment[2]!.trim());
      if (assignment[1] === 'PATH') {
        value = value.split(':').map((d) => (d === '/usr/local/bin' ? `${prefix}/bin` : d)).join(':');
        if (!nodeOnCronPath) value += `:${nodeDir}`; // as the README says: node's directory too
      }
      vars[assignment[1]!] = value;
      continue;
    }
    const entry = /^(?:\S+\s+){5}(.*)$/.exec(line);
    assert.ok(entry, `a crontab line: ${line}`);
    commands.push(local(entry[1]!));
  }
  assert.ok(vars.PATH && vars.UWSRUN_HOME, `the recipe sets PATH and UWSRUN_HOME: ${JSON.stringify(vars)}`);
  const submitLine = commands.find((c) => c.includes(' submit '));
  const tickLine = commands.find((c) => c.includes(' tick'));
  assert.ok(submitLine && tickLine, `the recipe has a submit and a tick line: ${commands.join(' | ')}`);

  // Without the PATH line, cron's own PATH does not find uwsrun: the line is what matters.
  const bare = cronCommand(tickLine);
  const without = shell(bare.command, { UWSRUN_HOME: vars.UWSRUN_HOME! }, bare.input);
  assert.equal(without.status, 127, `without the PATH line: ${without.stderr}`);
  assert.match(without.stderr, /uwsrun: (command )?not found/);

  const submit = cronCommand(submitLine);
  const first = shell(submit.command, vars, submit.input);
  assert.equal(first.status, 0, `the submit line: ${first.stderr}`);
  assert.equal(first.stdout + first.stderr, '', 'cron would mail nothing: the id goes to the log');
  const submitted = join(srv, 'pipeline', 'submitted.log');
  const ids = () => readFileSync(submitted, 'utf8').split('\n').filter((l) => l !== '');
  assert.equal(ids().length, 1, 'one id in submitted.log');
  const id = ids()[0]!;
  assert.match(id, ID_RE);

  const yesterday = run('date', ['-d', 'yesterday', '+%F']).stdout.trim();
  const home = vars.UWSRUN_HOME!;
  const wait = shell(`uwsrun wait ${id} && uwsrun show --json ${id}`, vars);
  assert.equal(wait.status, 0, `the nightly job completes: ${wait.stdout}${wait.stderr}`);
  const job = JSON.parse(wait.stdout);
  assert.equal(job.runId, `night-${yesterday}`);
  assert.equal(job.parameters.night, yesterday);
  const summary = JSON.parse(readFileSync(join(home, 'jobs', id, 'results', `summary-${yesterday}.json`), 'utf8'));
  assert.equal(summary.night, yesterday);

  const retry = shell(submit.command, vars, submit.input);
  assert.equal(retry.status, 0, retry.stderr);
  assert.deepEqual(ids(), [id, id], 'a retry of the same night creates nothing: the same id again');

  const tick = cronCommand(tickLine);
  const ticked = shell(tick.command, vars, tick.input);
  assert.equal(ticked.status, 0, `the tick line: ${ticked.stderr}`);
  assert.equal(ticked.stdout + ticked.stderr, '', 'tick -q with nothing to do prints nothing');
});
