// Bundles src/main.ts into dist/uwsrun.cjs: one CommonJS file, so a command parses one
// script and resolves no module graph (startup is most of a command's cost).
// commander loads node:child_process at start-up for executable subcommands, which uwsrun
// does not use; that costs ~3 ms (it pulls in net and stream) on every command, so inside
// commander it is replaced by a stand-in that loads the real module on first use.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const lazyChildProcess = {
  name: 'lazy-child-process-in-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      args.importer.includes('/node_modules/commander/') ? { path: 'lazy-child-process', namespace: 'uwsrun' } : undefined);
    b.onLoad({ filter: /^lazy-child-process$/, namespace: 'uwsrun' }, () => ({
      loader: 'js',
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
    }));
  },
};

// execa (Slurm's commands only, src/executors/slurm/commands.ts) is a bundle of its own,
// dist/uwsrun-execa.cjs, required at run time from beside dist/uwsrun.cjs: inside the main
// bundle its ~115 KB would be read and hashed by every command's start, Slurm or not.
const execaApart = {
  name: 'execa-in-a-bundle-of-its-own',
  setup(b) {
    b.onResolve({ filter: /^execa$/ }, () => ({ path: './uwsrun-execa.cjs', external: true }));
  },
};

await build({
  stdin: { contents: "export { execa } from 'execa';", resolveDir: process.cwd(), loader: 'js' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/uwsrun-execa.cjs',
  logLevel: 'warning',
  minify: !process.env.UWSRUN_PLAIN_BUILD,
});

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/uwsrun.cjs',
  supported: { 'dynamic-import': false },
  plugins: [lazyChildProcess, execaApart],
  // The completion scripts and the launcher's Perl (src/executors/*/*.pl), as strings.
  loader: { '.bash': 'text', '.zsh': 'text', '.pl': 'text' },
  logLevel: 'warning',
  // Half the source to read and hash at every start: ~2 ms of a ~61 ms submit. (keepNames,
  // for readable internal-error stacks, cost ~1 ms of it back: debug with a plain build,
  // UWSRUN_PLAIN_BUILD=1 npm run build, whose CPU profiles and perf samples name functions.)
  minify: !process.env.UWSRUN_PLAIN_BUILD,
});

// V8's code cache (dist/uwsrun.cjs.cache, see bin/uwsrun) holds what the run that wrote it
// compiled. Written here by the path cron scripts take most, a `submit` of a definition
// already cached, instead of by whichever command happens to run first after a build.
const warm = mkdtempSync(join(tmpdir(), 'uwsrun-warm-'));
try {
  writeFileSync(join(warm, 'jobs.yaml'), 'jobs:\n  warm:\n    command: ["true"]\n');
  const env = { ...process.env, UWSRUN_HOME: join(warm, 'home'), UWSRUN_JOBS: join(warm, 'jobs.yaml'), NO_COLOR: '1' };
  for (let i = 0; i < 2; i++) { // the first run also fills the definitions cache
    rmSync('dist/uwsrun.cjs.cache', { force: true });
    execFileSync(process.execPath, ['bin/uwsrun', 'submit', 'warm'], { env, stdio: 'ignore' });
  }
  // The runner's own cache: written by a runner when it exits, here one that ran a job and
  // idled out. (The commands' cache is not written again: a loader writes only a missing one.)
  rmSync('dist/uwsrun.cjs.runner.cache', { force: true });
  execFileSync(process.execPath, ['bin/uwsrun', 'submit', 'warm', '--wait'], { env: { ...env, UWSRUN_RUNNER_IDLE_MS: '200' }, stdio: 'ignore' });
  // Until every runner of that HOME is gone (a command may have started a second one, which
  // gives way and writes the cache too as it exits): the file is then final for npm pack.
  const home = join(warm, 'home');
  const runnersLeft = () => readdirSync('/proc').some((pid) => {
    try {
      return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(home);
    } catch {
      return false; // gone meanwhile
    }
  });
  const deadline = Date.now() + 20_000;
  while ((!existsSync('dist/uwsrun.cjs.runner.cache') || runnersLeft()) && Date.now() < deadline) execFileSync('sleep', ['0.1']);
  if (!existsSync('dist/uwsrun.cjs.runner.cache')) console.warn('build: the runner wrote no code cache (it is only an optimisation)');
} finally {
  rmSync(warm, { recursive: true, force: true });
}
