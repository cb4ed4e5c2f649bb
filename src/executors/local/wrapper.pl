# The wrapper: every job's process-group leader (steps in launcher.ts), shared by the
# executors: for local jobs it is a fork of the launcher (launcher.pl), for Slurm jobs it is
# the batch script itself (../slurm/batch.pl). Both programs are this file followed by their
# own code, so the constant and the helpers below are theirs too.
# $exit is the job's exit file, opened by its caller and holding EXIT_ROOM blanks: the
# status is written over them in place, so it never needs a new inode or block.
use strict;
use POSIX ();
# How much room the exit file keeps for the wrapper's last word.
use constant EXIT_ROOM => 512;
# Set by the Slurm batch script (../slurm/batch.pl).
our $inSlurm = 0;

sub slurp { my ($f) = @_; open(my $h, '<', $f) or return undef; local $/; my $t = <$h>; close $h; return $t; }

# The fields of /proc/PID/stat after the command name: [0] the state, [19] the start time.
sub procStat { my ($pid) = @_; return split / /, (slurp("/proc/$pid/stat") // '') =~ s/.*\) //sr; }

sub startTimeOf { return (procStat($_[0]))[19] // ''; }

# $up is called once the command runs (exec succeeded): the "child is up" report, on the
# launcher's pipe for a local job, a file in the job's records for a Slurm job.
# $atEnd, if given, is called once the status is written, right before the wrapper exits.
sub wrapper {
  my ($id, $d, $exit, $broken, $cwd, $hold, $grace, $cmd, $env, $up, $atEnd) = @_;
  # What ps shows. In a Slurm batch job without a space: Slurm reads /proc/PID/stat with
  # scanf's %s, and a space in the command name hides the process from its kill tree.
  $0 = $main::inSlurm ? "uwsrun-wrapper:$id" : "uwsrun-wrapper $id";
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
  my $end = sub { $atEnd->() if $atEnd; POSIX::_exit($_[0]) };
  my $fail = sub { $status->("error $_[0]"); $end->($_[1] // 126) };
  $fail->($broken) if $broken ne '';
  select(undef, undef, undef, $hold) if $hold > 0;
  # The job's directory is made when the job starts, not at submit (core/submit.ts); a
  # retry or a Slurm job (the runner makes it before sbatch) finds it there.
  for my $dir ($d, "$d/results") { -d $dir or mkdir($dir, 0700) or -d $dir or $fail->("cannot create $dir: $!"); }
  # 1089 = O_WRONLY|O_APPEND|O_CREAT, 0600 as the HOME's other files, whatever the umask.
  sysopen(my $out, "$d/stdout.log", 1089, 0600) or $fail->("cannot open stdout.log: $!");
  sysopen(my $err, "$d/stderr.log", 1089, 0600) or $fail->("cannot open stderr.log: $!");
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
  $up->();
  $SIG{INT} = $SIG{TERM} = sub {};
  my $got;
  do { $got = waitpid($pid, 0) } until $got == $pid || $got == -1;
  my $st = $?;
  my $left = endLeftovers($grace);
  if ($st & 127) { $status->("signal " . ($st & 127), $left); $end->(128 + ($st & 127)); }
  $status->("exit " . ($st >> 8), $left);
  $end->($st >> 8);
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
