# The batch script of every Slurm job (see slurm/handover.ts): wrapper.pl followed by this
# file, and a last line `batch(RECORDS)` taking the job's record directory from the script's
# one argument (hex, so no quoting can go wrong). sbatch reads it from HOME/cache/; Slurm runs
# it with /usr/bin/perl on the node.
#
# It does, on the node, what the launcher does on this machine before it forks a wrapper:
#   1. writes "SLURM_JOB_ID" into RECORDS/batch: the job runs (a successor runner that never
#      learnt the Slurm id finds it there, and the runner knows the job is EXECUTING even when
#      Slurm has already forgotten it);
#   2. creates RECORDS/exit holding EXIT_ROOM blanks (the wrapper's status goes over them);
#   3. reads RECORDS/request (written by the runner before sbatch: the launcher's request
#      format, NUL-separated) and becomes the job's wrapper. Its "up" is the file RECORDS/up,
#      created once the command runs: its mtime is the job's startTime.
# The command gets exactly the job's environment plus Slurm's own SLURM_* variables.
sub batch {
  my ($records) = @_;
  $main::inSlurm = 1;
  # Aborted while Slurm could not be told (its controller down): the cancel is retried, and
  # meanwhile a job that starts after all runs nothing (records/ID/cancelled, see run/abort.ts).
  POSIX::_exit(0) if -e "$records/cancelled";
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
  wrapper($id // '', $dir // '.', $exit, $broken, $cwd // '.', $hold || 0, $grace || 0, \@cmd, \@rest, sub {
    my $h;
    if (sysopen($h, "$records/up", 577, 0600)) { close $h; }
  });
}
