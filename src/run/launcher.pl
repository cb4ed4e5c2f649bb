# The launcher (see wrapper.ts for the protocol): reads length-prefixed start requests from
# the request FIFO, forks each job's wrapper and answers with its pid on the answer FIFO.
# Every answer is one line: "PID STARTTIME" (forked), "started PID STARTTIME" (the job's
# start marker shows it was started before; both may be missing if the marker is still
# empty) or "fail MESSAGE" (this job could not be started, e.g. no inode left: the launcher
# itself is fine). Reports on stdout: "up ID" (from wrappers) and "exit ID CODE SIGNAL".
#
# A job is started at most once: its start marker, RECORDS/started, is created exclusively
# (O_EXCL) before the fork, and the forked wrapper writes its own pid and start time into it
# before doing anything else. So a launcher killed at any point leaves either no marker
# (nothing was forked), or a marker naming a live or finished wrapper, or (killed between
# creating the marker and forking) an empty marker with no process of the job anywhere.
use strict;
use POSIX ();
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
# How much room the exit file keeps for the wrapper's last word (see wrapper.pl).
use constant EXIT_ROOM => 512;
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
    syswrite $rep, launch(split /\0/, $rec, -1);
  }
}
exit 0;

sub slurp { my ($f) = @_; open(my $h, '<', $f) or return undef; local $/; my $t = <$h>; close $h; return $t; }

sub startTimeOf { my ($pid) = @_; return (split / /, (slurp("/proc/$pid/stat") // '') =~ s/.*\) //sr)[19] // ''; }

# One request: returns the answer line.
sub launch {
  my ($id, $dir, $records, $cwd, $hold, $grace, $argc, @rest) = @_;
  my @cmd = splice(@rest, 0, $argc);
  # 193 = O_WRONLY|O_CREAT|O_EXCL: the job's start marker, taken once and for all.
  my $mark;
  if (!sysopen($mark, "$records/started", 193, 0600)) {
    return "started " . (slurp("$records/started") // '') . "\n" if $!{EEXIST};
    return "fail cannot create $records/started: $!\n";
  }
  # The exit file is created now, holding blanks, so that the wrapper's final status is
  # written into room it already has: recording how a job ended needs no inode and no block,
  # whatever has run out by then. 577 = O_WRONLY|O_CREAT|O_TRUNC (Linux): mode 0600.
  my $exit;
  my $undo = sub { my $e = $_[0]; close $mark; close $exit if $exit; unlink "$records/started"; return "fail $e\n"; };
  sysopen($exit, "$records/exit", 577, 0600) or return $undo->("cannot create $records/exit: $!");
  my $blank = (' ' x (EXIT_ROOM - 1)) . "\n";
  my $w = syswrite $exit, $blank;
  return $undo->("cannot write $records/exit: " . (defined $w ? 'short write' : $!)) unless defined $w && $w == EXIT_ROOM;
  my $pid = fork;
  return $undo->("cannot fork: $!") unless defined $pid;
  if ($pid == 0) {
    # First of all, before anything can go wrong: who we are, into the start marker.
    my $said = syswrite $mark, "$$ " . startTimeOf($$);
    close $mark; close $req; close $rep;
    wrapper($id, $dir, $exit, defined $said && $said > 0 ? '' : "cannot write the start marker: $!", $cwd, $hold, $grace, \@cmd, \@rest);
  }
  close $mark; close $exit;
  $job{$pid} = $id;
  return "$pid " . startTimeOf($pid) . "\n";
}

# The wrapper: every job's process-group leader, a fork of the launcher (steps in wrapper.ts).
# $exit is the job's exit file, opened by the launcher and holding EXIT_ROOM blanks: the
# status is written over them in place, so it never needs a new inode or block.
sub wrapper {
  my ($id, $d, $exit, $broken, $cwd, $hold, $grace, $cmd, $env) = @_;
  $0 = "uwsrun-wrapper $id";
  $SIG{CHLD} = 'DEFAULT'; $SIG{PIPE} = 'DEFAULT';
  POSIX::setsid();
  subreaper();
  open(STDIN, '<', '/dev/null'); open(STDERR, '>', '/dev/null');
  # The status line, and optionally a second line "left ..." (see endLeftovers).
  my $status = sub {
    my $text = join "\n", map { s/\n/ /gr } grep { defined } @_;
    $text = substr($text, 0, EXIT_ROOM - 2);
    sysseek $exit, 0, 0; syswrite $exit, "$text\n"; truncate $exit, length($text) + 1; close $exit;
  };
  my $fail = sub { $status->("error $_[0]"); POSIX::_exit($_[1] // 126) };
  $fail->($broken) if $broken ne '';
  select(undef, undef, undef, $hold) if $hold > 0;
  open(my $out, '>>', "$d/stdout.log") or $fail->("cannot open stdout.log: $!");
  open(my $err, '>>', "$d/stderr.log") or $fail->("cannot open stderr.log: $!");
  chdir $cwd or $fail->("cannot change to directory $cwd: $!");
  pipe(my $r, my $w) or $fail->("pipe: $!");
  my $pid = fork;
  defined $pid or $fail->("cannot fork: $!");
  if ($pid == 0) {
    close $r; close $exit;
    %ENV = map { split /=/, $_, 2 } @$env;
    open(STDOUT, '>&', $out); open(STDERR, '>&', $err);
    { no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
    syswrite $w, "$!"; POSIX::_exit(127);
  }
  close $w;
  my $failed = do { local $/; <$r> };
  if (defined $failed && length $failed) { waitpid($pid, 0); $fail->("cannot execute $cmd->[0]: $failed", 127); }
  $SIG{PIPE} = 'IGNORE';
  syswrite STDOUT, "up $id\n";
  $SIG{INT} = $SIG{TERM} = sub {};
  my $got;
  do { $got = waitpid($pid, 0) } until $got == $pid || $got == -1;
  my $st = $?;
  my $left = endLeftovers($grace);
  if ($st & 127) { $status->("signal " . ($st & 127), $left); POSIX::_exit(128 + ($st & 127)); }
  $status->("exit " . ($st >> 8), $left);
  POSIX::_exit($st >> 8);
}

# The wrapper becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER): whatever the command
# leaves behind, in its group or escaped by setsid, and orphaned, is re-parented to the
# wrapper instead of init, so the wrapper knows at the end whether anything is left.
sub subreaper {
  my %prctl = (x86_64 => 157, aarch64 => 167, i686 => 172, armv7l => 172, ppc64le => 171, s390x => 172, riscv64 => 167);
  my $nr = $prctl{(POSIX::uname())[4]};
  syscall($nr, 36, 1, 0, 0, 0) if defined $nr;
}

# The command has ended: the job ends with it (SPEC §5). What it left running (children of
# the wrapper, by birth or re-parented) gets SIGTERM, and SIGKILL once $grace seconds have
# passed; given up 10 s after that (a process we may not signal). The leader stays alive
# meanwhile, so the job stays EXECUTING until nothing is left. Returns "left PID (COMM), ..."
# naming what had to be terminated, or undef when nothing was left (the usual case: one
# waitpid() call, no /proc scan).
sub endLeftovers {
  my ($grace) = @_;
  # Time counted in rounds of at least 50 ms each (perl-base has no sub-second clock): the
  # grace given is never shorter than asked.
  my $rounds = 0;
  my (%termed, @named);
  while (1) {
    my $r;
    do { $r = waitpid(-1, POSIX::WNOHANG()) } while $r > 0;
    last if $r < 0;
    my $late = 0.05 * $rounds++;
    last if $late > $grace + 10;
    for my $kid (children()) {
      my ($pid, $comm) = @$kid;
      if (!$termed{$pid}) { $termed{$pid} = 1; push @named, "$pid ($comm)"; kill 'TERM', $pid; }
      elsif ($late >= $grace) { kill 'KILL', $pid; }
    }
    select(undef, undef, undef, 0.05);
  }
  return @named ? 'left ' . join(', ', @named) : undef;
}

sub children {
  my @kids;
  opendir(my $dh, '/proc') or return ();
  for my $p (grep { /^\d+$/ } readdir $dh) {
    my $stat = slurp("/proc/$p/stat") // next;
    my ($comm, $rest) = $stat =~ /\((.*)\) (.*)/s or next;
    my ($state, $ppid) = split / /, $rest;
    push @kids, [$p, $comm] if $ppid == $$ && $state ne 'Z' && $state ne 'X';
  }
  return @kids;
}
