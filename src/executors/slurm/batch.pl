# The batch script of every Slurm job (see slurm/handover.ts): wrapper.pl followed by this
# file, and a last line `batch(RECORDS)` taking the job's record directory from the script's
# one argument (hex, so no quoting can go wrong). sbatch reads it from HOME/cache/; Slurm runs
# it with /usr/bin/perl on the node.
#
# It does, on the node, what the launcher does on this machine before it forks a wrapper:
#   1. writes "SLURM_JOB_ID" into RECORDS/batch: the job runs (a successor runner that never
#      learnt the Slurm id finds it there, and the runner knows the job is EXECUTING without
#      asking Slurm, and even when Slurm has already forgotten it);
#   2. creates RECORDS/exit holding EXIT_ROOM blanks (the wrapper's status goes over them;
#      its size is then no longer EXIT_ROOM, which the runner sees with a stat());
#   3. reads RECORDS/request (written by the runner before sbatch: the launcher's request
#      format, NUL-separated) and forks the job's wrapper. Its "up" is the file RECORDS/up,
#      created once the command runs: its mtime is the job's startTime.
# The batch script itself stays the wrapper's parent and waits for it, so it can tell the
# runner whether Slurm signalled the job (a time limit, a cancel, a preemption: Slurm signals
# every process of the batch job, this one among them): each signal it gets is appended to
# RECORDS/signalled at once, and once the wrapper is gone it creates RECORDS/ended. A job whose
# command exited by itself and whose batch script got no signal by then ended without Slurm's
# doing, and the runner records it from the exit file without asking Slurm
# (executors/slurm/executor.ts).
# The command gets exactly the job's environment plus Slurm's own SLURM_* variables.
sub batch {
  my ($records) = @_;
  $main::inSlurm = 1;
  # Aborted while Slurm could not be told (its controller down): the cancel is retried, and
  # meanwhile a job that starts after all runs nothing (records/ID/cancelled, see run/abort.ts).
  POSIX::_exit(0) if -e "$records/cancelled";
  unlink "$records/ended";
  my $mark;
  # 577 = O_WRONLY|O_CREAT|O_TRUNC
  if (sysopen($mark, "$records/batch", 577, 0600)) { syswrite $mark, ($ENV{SLURM_JOB_ID} // '') . "\n"; close $mark; }
  my $broken = '';
  my $exit;
  if (sysopen($exit, "$records/exit", 577, 0600)) {
    my $w = syswrite $exit, (' ' x (EXIT_ROOM - 1)) . "\n";
    $broken = "cannot write $records/exit: " . (defined $w ? 'short write' : $!) unless defined $w && $w == EXIT_ROOM;
  } else {
    print STDERR "uwsrun: cannot create $records/exit: $!\n";
    POSIX::_exit(126);
  }
  my $request = slurp("$records/request");
  if (!defined $request) { $broken ||= "cannot read $records/request: $!"; $request = ''; }
  my ($id, $dir, $rec, $cwd, $hold, $grace, $argc, @rest) = split /\0/, $request, -1;
  my @cmd = splice(@rest, 0, $argc // 0);
  $broken ||= 'empty request' unless @cmd;
  push @rest, map { "$_=$ENV{$_}" } sort grep { /^SLURM_/ } keys %ENV;
  # Handlers first: a signal between the fork and them would go unrecorded. 1089 =
  # O_WRONLY|O_APPEND|O_CREAT. The wrapper (the child) sets its own at once. Slurm signals
  # the batch script's process group (scancel --signal=INT --full): each signal is passed on
  # to the wrapper's group (its own session, so the pid is the group), which is where the
  # command runs, as when the wrapper was the batch script itself.
  my $pid;
  my $noted = sub {
    my $h;
    if (sysopen($h, "$records/signalled", 1089, 0600)) { syswrite $h, "$_[0]\n"; close $h; }
    kill($_[0], -$pid) or kill($_[0], $pid) if $pid;
  };
  local @SIG{qw(INT TERM HUP QUIT USR1 USR2 ALRM)} = ($noted) x 7;
  $pid = fork;
  if (!defined $pid) {
    print STDERR "uwsrun: cannot fork the wrapper: $!\n";
    POSIX::_exit(126);
  }
  if ($pid == 0) {
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT USR1 USR2 ALRM);
    wrapper($id // '', $dir // '.', $exit, $broken, $cwd // '.', $hold || 0, $grace || 0, \@cmd, \@rest, sub {
      my $h;
      if (sysopen($h, "$records/up", 577, 0600)) { close $h; }
    });
  }
  close $exit;
  # No space in the name (see wrapper.pl): Slurm's kill tree must see this process.
  $0 = 'uwsrun-batch:' . ($id // '');
  # A signal handled here interrupts waitpid (-1, EINTR): the wait goes on.
  my $got;
  do { $got = waitpid($pid, 0) } until $got == $pid || ($got == -1 && $! != POSIX::EINTR());
  my $st = $?;
  # The wrapper is gone, and every signal Slurm sent this script by now has been noted (a
  # handler runs before the next statement): only from here on does a `signalled` that is
  # absent mean that Slurm signalled nothing (Slurm signals every process of the job itself,
  # so the command may die of it, and the wrapper write its exit, before this script's handler
  # ran). The runner trusts an exit 0 without asking Slurm only once this file exists.
  if (sysopen(my $ended, "$records/ended", 577, 0600)) { close $ended; }
  POSIX::_exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
}
