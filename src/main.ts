// Entry point of the bundle. `uwsrun __runner --home DIR` is the auto-started runner
// (internal, started by ensureRunner); everything else is the command line.

// Both are loaded on demand: a command never pays for the runner's code, nor the runner for
// the command line's.

const argv = process.argv.slice(2);
if (argv[0] === '__runner' && argv[1] === '--home' && argv[2]) {
  const home = argv[2];
  // Started by the wrapper of a job whose runner died (launcher.pl respawnRunner): a HOME
  // removed meanwhile (rm -rf) is not made again.
  if (process.env.UWSRUN_RESPAWNED_BY && !process.getBuiltinModule('node:fs').existsSync(`${home}/state.json`)) process.exit(0);
  void import('./run/runner.js').then(({ Runner }) => new Runner(home).start());
} else {
  void import('./cli/program.js').then(({ runCli }) => runCli(process.argv));
}
