// The floor under P2's wrappers: CPU per job of a Perl loop that does what a job costs at
// the least with a wrapper (fork; the child forks and execs the command, waits for it and
// exits) and, for comparison, of one fork and exec (what task-spooler's server does). From
// Perl's times() of its reaped children. Compare with "wrappers and jobs" of p2-cpu.mjs.
// Figures, not assertions: `node bench/p2-floor.mjs [N] [COMMAND]` (default 900, true).
import { spawnSync } from 'node:child_process';

const LOOP = `
use POSIX ();
my ($n, $double, $cmd) = @ARGV;
my @t0 = times;
for (1 .. $n) {
  my $pid = fork // die "fork: $!";
  if ($pid == 0) {
    if ($double) {
      my $kid = fork // die "fork: $!";
      if ($kid == 0) { exec { $cmd } $cmd; POSIX::_exit(127) }
      waitpid($kid, 0);
      POSIX::_exit(0);
    }
    exec { $cmd } $cmd; POSIX::_exit(127);
  }
  waitpid($pid, 0);
}
my @t1 = times;
printf "%.3f %.3f\\n", ($t1[2] - $t0[2]) * 1000 / $n, ($t1[3] - $t0[3]) * 1000 / $n;
`;

function floor(n, double, cmd) {
  const r = spawnSync('/usr/bin/perl', ['-e', LOOP, String(n), double ? '1' : '0', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const [user, sys] = r.stdout.trim().split(' ').map(Number);
  return { user, sys };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2]) || 900;
  const cmd = process.argv[3] || '/usr/bin/true';
  for (const [label, double] of [['fork, fork + exec (a wrapper)', true], ['fork + exec', false]]) {
    const f = floor(n, double, cmd);
    console.log(`${label.padEnd(32)} ${(f.user + f.sys).toFixed(2)} ms/job  (user ${f.user.toFixed(2)}, sys ${f.sys.toFixed(2)})  ${cmd}, N=${n}`);
  }
}
