// Every job's process-group leader is a small Perl wrapper (perl-base is Essential on
// Debian; the runner cannot afford a Node process per job, and sh cannot tell `exit 130`
// from death by SIGINT). It:
//   1. waits holdStart seconds when asked (tests only: UWSRUN_TEST_HOLD_START of the
//      submitter keeps the job in the starting window), then cd's to the job's cwd;
//   2. forks the command with stdin /dev/null and stdout/stderr appended straight to the
//      job's stdout.log/stderr.log (no pipe through the runner; the wrapper itself writes
//      nothing into them);
//   3. learns whether exec succeeded through a close-on-exec pipe (EOF = the program is
//      running), and only then says "up" on fd 3, a pipe to the runner: the "child is up"
//      event that sets startTime. An exec that failed is reported, and the job never "up";
//   4. traps INT and TERM (in itself only: the command gets the signals sent to the group),
//      waits, and writes how the command ended into jobs/ID/exit: "exit N", "signal N" or
//      "error MESSAGE". A runner that starts after the previous one died reads that file to
//      learn how an adopted job ended.
// Until step 4 the wrapper has no handlers: SIGTERM in the starting window ends it at once.

import { spawn, type ChildProcess } from 'node:child_process';

const WRAPPER = String.raw`
my ($d, $cwd, $hold, @cmd) = @ARGV;
# 577 = O_WRONLY|O_CREAT|O_TRUNC (Linux): mode 0600 whatever the umask, without loading Fcntl.
sub status { my ($text) = @_; my $tmp = "$d/.exit.tmp";
  if (sysopen(my $f, $tmp, 577, 0600)) { print $f "$text\n"; close $f; rename $tmp, "$d/exit"; } }
open(STDERR, '>', '/dev/null');
select(undef, undef, undef, $hold) if $hold > 0;
open(my $out, '>>', "$d/stdout.log") or do { status("error cannot open stdout.log: $!"); exit 126 };
open(my $err, '>>', "$d/stderr.log") or do { status("error cannot open stderr.log: $!"); exit 126 };
chdir $cwd or do { status("error cannot change to directory $cwd: $!"); exit 126 };
pipe(my $r, my $w) or do { status("error pipe: $!"); exit 126 };
my $pid = fork;
defined $pid or do { status("error cannot fork: $!"); exit 126 };
if ($pid == 0) {
  close $r;
  open(my $up, '>&=', 3) and close $up;
  open(STDIN, '<', '/dev/null'); open(STDOUT, '>&', $out); open(STDERR, '>&', $err);
  exec { $cmd[0] } @cmd;
  syswrite $w, "$!"; exit 127;
}
close $w;
my $failed = do { local $/; <$r> };
if (defined $failed && length $failed) {
  waitpid($pid, 0);
  status("error cannot execute $cmd[0]: $failed");
  exit 127;
}
$SIG{PIPE} = 'IGNORE';
if (open(my $up, '>&=', 3)) { syswrite $up, "up\n"; close $up; }
$SIG{INT} = $SIG{TERM} = sub {};
my $got;
do { $got = waitpid($pid, 0) } until $got == $pid || $got == -1;
my $st = $?;
if ($st & 127) { status("signal " . ($st & 127)); exit 128 + ($st & 127); }
status("exit " . ($st >> 8));
exit($st >> 8);
`;

export interface JobLaunch {
  jobDir: string;
  cwd: string;
  command: string[];
  env: Record<string, string>;
  holdStart: number;
}

export const PERL = '/usr/bin/perl';

export function spawnJobWrapper(launch: JobLaunch): ChildProcess {
  return spawn(PERL, ['-e', WRAPPER, '--', launch.jobDir, launch.cwd, String(launch.holdStart), ...launch.command], {
    detached: true, // setsid(): its own session and process group, led by the wrapper
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: launch.env,
    cwd: launch.jobDir,
  });
}
