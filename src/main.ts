// Entry point of the bundle. `uwsrun __runner --home DIR` is the auto-started runner
// (internal, started by ensureRunner); everything else is the command line.

import { Runner } from './run/runner.js';
import { runCli } from './cli/program.js';

const argv = process.argv.slice(2);
if (argv[0] === '__runner' && argv[1] === '--home' && argv[2]) {
  new Runner(argv[2]).start();
} else {
  void runCli(process.argv);
}
