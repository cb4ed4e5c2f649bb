# A job's notifier, supervised (see notify.ts): perl -e THIS -- RUNNERLOG JOBID PHASE MARKER ARGV...
# Started detached (its own session) with stdin /dev/null and stdout/stderr on notify.log.
# It first creates MARKER (records/ID/notified) exclusively: whoever creates it sends the
# notification, so two senders (a claimant that died after spawning this, and the sweep
# that claimed again) never both run it; one that finds MARKER there exits at once. (A
# job deleted meanwhile has no record directory: its notification is still sent.)
# It forks, execs ARGV in the child (as a list: no shell ever sees it), waits, and appends
# one line to runner.log when the notifier could not be run, exited non-zero or was killed:
# whoever spawned it (an `abort` command, `tick`) may be long gone by then, and a failed
# notification must still be told, without changing the job.
use strict;
use POSIX ();
my ($log, $id, $phase, $marker, @argv) = @ARGV;
$0 = "uwsrun-notify $id";
# 193 = O_WRONLY|O_CREAT|O_EXCL (Linux).
if (sysopen(my $m, $marker, 193, 0600)) { syswrite $m, "$$\n"; close $m; }
elsif ($!{EEXIST}) { exit 0; }
sub say_failed {
  my ($why) = @_;
  my $line = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime) . " [$$] job $id: notification ($phase) failed: $why\n";
  # 1089 = O_WRONLY|O_CREAT|O_APPEND (Linux): one short write, never interleaved.
  if (sysopen(my $fh, $log, 1089, 0600)) { syswrite $fh, $line; close $fh; }
}
# A pipe closed on exec tells the parent whether the exec worked (and why not).
pipe(my $r, my $w) or do { say_failed("cannot create a pipe: $!"); exit 1; };
my $pid = fork;
if (!defined $pid) { say_failed("cannot fork: $!"); exit 1; }
if ($pid == 0) {
  close $r;
  fcntl($w, POSIX::F_SETFD(), POSIX::FD_CLOEXEC());
  { no warnings; exec { $argv[0] } @argv; }
  syswrite $w, "$!";
  POSIX::_exit(127);
}
close $w;
my $err = '';
sysread $r, $err, 4096;
close $r;
waitpid($pid, 0);
my $st = $?;
if ($err ne '') { say_failed("cannot run $argv[0]: $err"); exit 1; }
if ($st & 127) { say_failed("$argv[0] was killed by signal " . ($st & 127)); exit 1; }
if ($st >> 8) { say_failed("$argv[0] exited with status " . ($st >> 8)); exit 1; }
exit 0;
