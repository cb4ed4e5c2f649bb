# The launcher (see launcher.ts for the protocol; it runs as wrapper.pl followed by this file): reads length-prefixed start requests from
# the request FIFO, forks each job's wrapper and answers on stdout, one line per request:
# "launched ID PID STARTTIME" (forked), "started ID PID STARTTIME" (the job's start marker
# shows it was started before; PID and STARTTIME are missing if the marker is still empty)
# or "fail ID MESSAGE" (this job could not be started, e.g. no inode left: the launcher
# itself is fine). The answer FIFO only says "ready" once. Other reports on stdout: "up ID"
# (from wrappers) and "exit ID CODE SIGNAL". Each line is one write below PIPE_BUF, so lines
# of the launcher and of its wrappers never mix.
#
# A job is started at most once: its start marker, RECORDS/started, is created exclusively
# (O_EXCL) before the fork, and the forked wrapper writes its own pid and start time into it
# before doing anything else. So a launcher killed at any point leaves either no marker
# (nothing was forked), or a marker naming a live or finished wrapper, or (killed between
# creating the marker and forking) an empty marker with no process of the job anywhere.
my ($reqPath, $repPath) = @ARGV;
# What ps shows: "uwsrun-launcher HOME", and "uwsrun-wrapper JOBID" for each wrapper.
$0 = 'uwsrun-launcher ' . ($reqPath =~ s{/[^/]*$}{}r);
$SIG{PIPE} = 'IGNORE';
for my $p ($reqPath, $repPath) { unlink $p; POSIX::mkfifo($p, 0600) or die "launcher: cannot create $p: $!\n"; }
# Opening a FIFO blocks until the other side opens it. A runner that dies (or gives up, after
# 5 s) before it has opened both would leave this launcher blocked here for good: SIGALRM,
# whose default action ends the process, bounds the wait.
alarm 15;
open(my $req, '<', $reqPath) or die "launcher: cannot open $reqPath: $!\n";
open(my $rep, '>', $repPath) or die "launcher: cannot open $repPath: $!\n";
syswrite $rep, "ready\n";
alarm 0;
my %job;
# Children are reaped here, in the main loop, never in a signal handler: Perl runs handlers
# late, and a SIGCHLD arriving just before a blocking read would wait for the next request.
# The handler only makes select() return early; the timeout covers the remaining race.
sub reap {
  while ((my $p = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $job{$p};
    syswrite STDOUT, "exit $id " . ($? >> 8) . " " . ($? & 127) . "\n" if defined $id;
  }
}
$SIG{CHLD} = sub {};
my $rin = ''; vec($rin, fileno($req), 1) = 1;
my $buf = '';
while (1) {
  reap();
  next if select(my $rout = $rin, undef, undef, 0.05) <= 0;
  my $n = sysread($req, $buf, 65536, length $buf);
  if (!defined $n) { next if $!{EINTR}; last }
  last if $n == 0;
  while ($buf =~ /\A(\d+)\n/ && length($buf) >= length($1) + 1 + $1) {
    my $len = $1;
    my $rec = substr($buf, length($len) + 1, $len);
    substr($buf, 0, length($len) + 1 + $len) = '';
    syswrite STDOUT, launch(split /\0/, $rec, -1);
  }
}
exit 0;

# A job ends whose launcher is gone: its runner died (kill -9, the OOM killer), and nothing
# would record this end or start the next queued job until some uwsrun command or `tick`
# (SPEC §6: the next job starts promptly, without cron). So the wrapper starts a runner as a
# command would, with the command line and environment of the runner that started this
# launcher (UWSRUN_RUNNER_ARGV, hex, and the variables UWSRUN_RUNNER_ENV_KEYS names:
# launcher.ts), unless runner.beat names a live runner. Two wrappers that both start one
# are harmless: the runner that records itself first wins, the other exits. Called once
# the exit status is written.
sub respawnRunner {
  my ($launcher, $records, $id) = @_;
  return if getppid() == $launcher;
  my @argv = map { pack('H*', $_) } split /,/, ($ENV{UWSRUN_RUNNER_ARGV} // '');
  return unless @argv;
  my $home = $records =~ s{/records/[^/]+/?$}{}r;
  # A job deleted meanwhile, or a HOME removed under its jobs: nothing to start a runner for
  # (one would make the HOME again).
  return unless -d $records && -f "$home/state.json";
  my ($pid, $start) = split ' ', (slurp("$home/runner.beat") // '');
  if (defined $pid && $pid =~ /^\d+$/) {
    # Alive: the same process (its start time), and not a zombie nobody reaped yet.
    my @stat = procStat($pid);
    return if @stat > 19 && $stat[0] ne 'Z' && $stat[19] eq ($start // '');
  }
  # Many jobs that end together: one of their wrappers starts the runner. HOME/runner.respawn
  # is taken exclusively, and counts for 10 s (the runner it started removes it once it
  # has recorded itself); the others leave it to that one.
  my $claim = "$home/runner.respawn";
  my @seen = lstat $claim;
  return if @seen && time - $seen[9] < 10;
  unlink $claim if @seen;
  # 193 = O_WRONLY|O_CREAT|O_EXCL: never through a link, and one wrapper only.
  sysopen(my $c, $claim, 193, 0600) or return;
  syswrite $c, "$$\n"; close $c;
  my %env = map { ($_ => $ENV{$_}) } grep { defined $ENV{$_} } split /,/, ($ENV{UWSRUN_RUNNER_ENV_KEYS} // '');
  my $child = fork;
  return unless defined $child && $child == 0;
  POSIX::setsid();
  %ENV = (%env, UWSRUN_RESPAWNED_BY => $id);
  open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
  chdir '/';
  { no warnings 'exec'; exec { $argv[0] } @argv; }
  POSIX::_exit(127);
}

# One request: returns the answer line (with its job id).
sub launch {
  my ($id, $dir, $records, $cwd, $hold, $grace, $argc, @rest) = @_;
  my @cmd = splice(@rest, 0, $argc);
  # 193 = O_WRONLY|O_CREAT|O_EXCL: the job's start marker, taken once and for all.
  my $mark;
  if (!sysopen($mark, "$records/started", 193, 0600)) {
    return "started $id " . (slurp("$records/started") // '') . "\n" if $!{EEXIST};
    return "fail $id cannot create $records/started: $!\n";
  }
  # The exit file is created now, holding blanks, so that the wrapper's final status is
  # written into room it already has: recording how a job ended needs no inode and no block,
  # whatever has run out by then. 577 = O_WRONLY|O_CREAT|O_TRUNC (Linux): mode 0600.
  my $exit;
  my $undo = sub { my $e = $_[0]; close $mark; close $exit if $exit; unlink "$records/started"; return "fail $id $e\n"; };
  sysopen($exit, "$records/exit", 577, 0600) or return $undo->("cannot create $records/exit: $!");
  my $blank = (' ' x (EXIT_ROOM - 1)) . "\n";
  my $w = syswrite $exit, $blank;
  return $undo->("cannot write $records/exit: " . (defined $w ? 'short write' : $!)) unless defined $w && $w == EXIT_ROOM;
  my $launcher = $$;
  my $pid = fork;
  return $undo->("cannot fork: $!") unless defined $pid;
  if ($pid == 0) {
    # First of all, before anything can go wrong: who we are, into the start marker.
    my $said = syswrite $mark, "$$ " . startTimeOf($$);
    close $mark; close $req; close $rep;
    wrapper($id, $dir, $exit, defined $said && $said > 0 ? '' : "cannot write the start marker: $!", $cwd, $hold, $grace, \@cmd, \@rest,
      sub { syswrite STDOUT, "up $id\n" }, sub { respawnRunner($launcher, $records, $id) });
  }
  close $mark; close $exit;
  $job{$pid} = $id;
  return "launched $id $pid " . startTimeOf($pid) . "\n";
}

