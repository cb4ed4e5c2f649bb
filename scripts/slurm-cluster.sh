#!/usr/bin/env bash
# A single-node Slurm cluster for the tests: slurmctld + slurmd on this machine, authenticated
# by munged, everything of Slurm's own (config, state, spool, logs, pid files, the jobcomp
# file) in one private directory, so it touches no system Slurm configuration.
#
#   scripts/slurm-cluster.sh up|down|status|ctld-stop|ctld-start|run CMD [ARG...]
#
# How it works:
# - The directory is $UWSRUN_SLURM_DIR (default /tmp/uwsrun-slurm); the controller listens on
#   $UWSRUN_SLURM_PORT (default 6817) and slurmd on the next port; UWSRUN_SLURM_CGROUP=1
#   enforces each job's --mem (task/cgroup). `up` writes slurm.conf there and prints
#   `export SLURM_CONF=...` on stdout (also written to DIR/env), so
#   `eval "$(scripts/slurm-cluster.sh up)"` is all a caller needs; progress goes to stderr.
#   Daemons still running with an older slurm.conf are restarted, so clients and daemons
#   never read different files.
# - A daemon counts as running when the pid in its pid file is alive and is that program
#   started with this directory's slurm.conf; anything else is a stale pid file from an
#   earlier run and is replaced. That is what makes `up` idempotent.
# - munged is machine-wide (/run/munge). `up` uses one that answers, else starts one as user
#   munge (creating the key if there is none) and notes that it did; only then does `down`
#   stop it, and not while Slurm daemons of another directory still run (they use it too).
# - `up` is done when the controller answers, the node is idle and a `sbatch --wrap true`
#   job has completed; every wait has a deadline, and a failure is one line naming the
#   daemon and its log, followed by the log's tail.
# - `down` cancels every job (no job process outlives the cluster: slurmstepd does not die
#   with slurmd), then stops slurmd, slurmctld and munged if it started it, and waits until
#   they are gone. `ctld-stop`/`ctld-start` stop and start only the controller (an outage),
#   keeping its saved state, so queued jobs survive it; `ctld-start` waits until the node is
#   back in the controller's view.
# - `run CMD` runs CMD with SLURM_CONF and UWSRUN_SLURM_DIR exported, bringing the cluster up
#   first if it does not answer; `npm test` runs through it. Every `run` holds a shared lock
#   on DIR/users while CMD runs; the last one out (it gets the lock exclusively) stops the
#   cluster if a `run` started it. A cluster started by `up` is stopped only by `down`, so
#   `.ci/run` (up, npm test, down) and several `npm test` at once share one cluster.
# - up, down, ctld-stop and ctld-start hold DIR/lock, so concurrent callers take turns.
#   Daemons are started with the lock descriptors closed, or they would hold the locks.
set -euo pipefail

DIR=${UWSRUN_SLURM_DIR:-/tmp/uwsrun-slurm}
NODE=$(hostname -s)
MUNGE_PIDFILE=/run/munge/munged.pid

say() { printf 'slurm-cluster: %s\n' "$*" >&2; }

# One line saying what failed, then the tail of the log that explains it.
fail() {
  local msg=$1 log=${2:-}
  if [ -n "$log" ]; then
    say "$msg (log: $log)"
    # Slurm 22.05 logs at every start that it cannot load PMIx (not installed, not used).
    if [ -s "$log" ]; then grep -v -e pmix -e 'MPI: Cannot create context' "$log" | tail -n 8 | sed 's/^/  | /' >&2; fi
  else
    say "$msg"
  fi
  exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Elapsed seconds since START_MS, e.g. "1.23".
elapsed() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10))
}

case $DIR in
  /*) ;;
  *) fail "UWSRUN_SLURM_DIR must be an absolute path, got '$DIR'" ;;
esac
case $DIR in
  *[[:space:]]* | *[\'\"\#=\\]*) fail "UWSRUN_SLURM_DIR must not hold spaces, quotes, '#', '=' or '\\' (slurm.conf cannot carry them): '$DIR'" ;;
esac
# Canonical, so that it compares equal to what /proc shows (DIR may go through a symlink).
DIR=$(realpath -m -- "$DIR")
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

# The settings of the cluster this directory holds, so that commands after `up` (and `up`
# again) need not be given them again: for `up`, the environment overrides them; for the
# others, the running cluster's file is the truth.
conf_port= conf_cgroup=
if [ -r "$CONF" ]; then
  conf_port=$(sed -n 's/^SlurmctldPort=//p' "$CONF")
  conf_cgroup=0
  if grep -qx 'TaskPlugin=task/cgroup' "$CONF"; then conf_cgroup=1; fi
fi
if [ "${1:-}" = up ]; then
  PORT=${UWSRUN_SLURM_PORT:-${conf_port:-6817}}
  CGROUP=${UWSRUN_SLURM_CGROUP:-${conf_cgroup:-0}}
else
  PORT=${conf_port:-${UWSRUN_SLURM_PORT:-6817}}
  CGROUP=${conf_cgroup:-${UWSRUN_SLURM_CGROUP:-0}}
fi
case $PORT in
  '' | *[!0-9]*) fail "UWSRUN_SLURM_PORT must be a port number, got '$PORT'" ;;
esac
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65534 ]; then fail "UWSRUN_SLURM_PORT must be 1 to 65534, got '$PORT'"; fi
case $CGROUP in
  0 | 1) ;;
  *) fail "UWSRUN_SLURM_CGROUP must be 0 or 1, got '$CGROUP'" ;;
esac

# Whether PID is a live process. A zombie counts as gone: PID 1 on this kind of machine does
# not always reap the orphans it inherits (as the daemons are, after they fork).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# The pid a pid file names if that process is alive and is PROG (for the Slurm daemons: run
# with this directory's slurm.conf); empty otherwise.
live_pid() {
  local prog=$1 pidfile=$2 pid comm cmdline
  [ -r "$pidfile" ] || return 0
  pid=$(tr -dc 0-9 <"$pidfile")
  [ -n "$pid" ] && alive "$pid" || return 0
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
  [ "$comm" = "$prog" ] || return 0
  if [ "$prog" != munged ]; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
    case " $cmdline " in *" -f $CONF "*) ;; *) return 0 ;; esac
  fi
  echo "$pid"
}

ctld_pid() { live_pid slurmctld "$DIR/run/slurmctld.pid"; }
slurmd_pid() { live_pid slurmd "$DIR/run/slurmd.pid"; }
slurmd_running() { [ -n "$(slurmd_pid)" ]; }

# Waits up to SECONDS for COMMAND to succeed; returns 1 when the deadline passes.
wait_until() {
  local seconds=$1
  shift
  local deadline=$(($(now_ms) + seconds * 1000))
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# True when something accepts connections on 127.0.0.1:PORT.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A Slurm command takes ~9 s to give up on a controller that is not there, so a closed port
# answers first; `timeout` bounds a controller that accepts but hangs.
ctld_answers() {
  local out
  port_taken "$PORT" || return 1
  out=$(timeout 5 scontrol ping 2>/dev/null) || return 1
  [[ $out == *' is UP'* ]]
}

# idle, mixed, allocated, down, drained...; a '*' appended means "not responding".
node_state() {
  local out
  out=$(timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null) || true
  echo "${out%%$'\n'*}"
}

# The controller knows the node's state (it is not '' or 'unknown').
node_answers() {
  case $(node_state) in
    '' | unknown*) return 1 ;;
    *) return 0 ;;
  esac
}

node_ready() {
  case $(node_state) in
    idle | mixed | allocated | completing) return 0 ;;
    *) return 1 ;;
  esac
}

# A node Slurm drained (a job step it could not kill: "Kill task failed") or marked down takes
# no more jobs until it is resumed; one bad job must not break every later test of a run.
resume_node() {
  local state reason
  state=$(node_state)
  case $state in
    drain* | drained* | down* | fail*)
      reason=$(timeout 5 sinfo -h -n "$NODE" -o %E 2>/dev/null) || true
      timeout 10 scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 &&
        say "node $NODE was '$state' (reason: ${reason:-none}): resumed" ;;
  esac
  return 0
}

munge_answers() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

lock_dir() {
  mkdir -p "$DIR"
  exec 8>"$DIR/lock"
  flock -w 120 8 || fail "another slurm-cluster.sh has held $DIR/lock for 120 s"
}

write_conf() {
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/probe"
  # ReturnToService=2: a node left DOWN by an earlier run (not responding when it was
  # stopped) is back in service when its slurmd registers again.
  # CR_Core: cores are the consumable resource, not memory, so jobs without --mem do not
  # each take the whole node's memory and run one at a time.
  # batch_sched_delay=0: a batch job is scheduled at once (submit to done ~0.7-1 s instead of
  # up to 3 s).
  # UWSRUN_SLURM_CGROUP=1: task/cgroup puts each job in a cgroup v1 memory group limited to
  # its --mem (a job over it ends OUT_OF_MEMORY); memory is then a consumable resource, and a
  # job that asks for none gets 100 MB a CPU, not the whole node. Off by default: Slurm names
  # a job's group after its id alone, so two such clusters on one machine would collide.
  local task=task/none select=CR_Core defmem=
  if [ "$CGROUP" = 1 ]; then
    awk '$2 == "/sys/fs/cgroup/memory" && $3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts ||
      fail "UWSRUN_SLURM_CGROUP=1 needs the cgroup v1 memory controller at /sys/fs/cgroup/memory"
    task=task/cgroup select=CR_Core_Memory defmem=$'\nDefMemPerCPU=100'
    printf '%s\n' '# Written by scripts/slurm-cluster.sh.' CgroupPlugin=cgroup/v1 CgroupMountpoint=/sys/fs/cgroup \
      ConstrainRAMSpace=yes >"$DIR/cgroup.conf"
  else
    rm -f "$DIR/cgroup.conf"
  fi
  # KillWait=5: the time from SIGTERM to SIGKILL when a job is cancelled or over its time
  # limit (default 30 s), also for processes that outlive the batch shell; a job that ignores
  # SIGTERM then costs a test (and `down`) 5 s, not 30.
  cat >"$CONF.new" <<EOF
# Written by scripts/slurm-cluster.sh; rewritten by every 'up'.
ClusterName=uwsrun
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=$task
SelectType=select/cons_tres
SelectTypeParameters=$select$defmem
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
KillWait=5
MpiDefault=none
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if cmp -s "$CONF.new" "$CONF"; then
    rm -f "$CONF.new"
  else
    # Daemons running with the old file would disagree with clients reading the new one.
    if [ -n "$(ctld_pid)$(slurmd_pid)" ]; then
      say "slurm.conf changed: restarting slurmctld and slurmd"
      stop_daemons slurmd="$(slurmd_pid)" slurmctld="$(ctld_pid)"
    fi
    mv "$CONF.new" "$CONF"
  fi
  # Job ids start again at 1 without saved state: the records of the old ids would be
  # read as the new jobs' by `sacct -c -j ID`.
  if [ ! -e "$DIR/state/job_state" ] && [ -z "$(ctld_pid)" ]; then : >"$DIR/jobcomp.log"; fi
  printf 'export SLURM_CONF=%s\n' "$CONF" >"$DIR/env"
}

require_installed() {
  local prog
  # slurmd runs each job as its submitter and munged must be started as user munge.
  [ "$(id -u)" = 0 ] || fail "must run as root (slurmd runs jobs as their submitter; munged runs as user munge)"
  for prog in slurmctld slurmd sbatch scontrol sinfo squeue scancel munged munge unmunge; do
    PATH=$PATH:/usr/sbin:/sbin command -v "$prog" >/dev/null ||
      fail "$prog not found: install the Debian packages slurm-wlm and munge (.ci/run does)"
  done
}

munge_up() {
  if munge_answers; then return 0; fi
  if [ ! -e /etc/munge/munge.key ]; then
    # munged accepts only a key that no one but munge can read.
    (umask 077 && dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none)
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    say "created /etc/munge/munge.key"
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  if ! runuser -u munge -- /usr/sbin/munged 8>&- 9>&- 2>"$DIR/log/munged.start"; then
    fail "munged did not start: $(tr '\n' ' ' <"$DIR/log/munged.start")" /var/log/munge/munged.log
  fi
  wait_until 10 munge_answers || fail "munged started but does not answer within 10 s" /var/log/munge/munged.log
  live_pid munged "$MUNGE_PIDFILE" >"$DIR/run/munged.ours"
  say "started munged (pid $(cat "$DIR/run/munged.ours"))"
}

# A daemon of another cluster on our port would answer our probes as if it were ours.
require_free_port() {
  port_taken "$2" && fail "port $2 for $1 is taken by another process (another cluster? set UWSRUN_SLURM_PORT)"
  return 0
}

ctld_up() {
  [ -z "$(ctld_pid)" ] || return 0
  rm -f "$DIR/run/slurmctld.pid"
  require_free_port slurmctld "$PORT"
  # Without -i a state file damaged by a crash stops the controller; a test cluster keeps
  # what it can read instead.
  slurmctld -i -f "$CONF" 8>&- 9>&- </dev/null >>"$DIR/log/slurmctld.start" 2>&1 ||
    fail "slurmctld did not start" "$DIR/log/slurmctld.log"
  wait_until 30 ctld_answers || {
    [ -n "$(ctld_pid)" ] || fail "slurmctld exited during start-up" "$DIR/log/slurmctld.log"
    fail "slurmctld does not answer 'scontrol ping' within 30 s" "$DIR/log/slurmctld.log"
  }
  say "slurmctld up (pid $(ctld_pid))"
}

slurmd_up() {
  if [ -z "$(slurmd_pid)" ]; then
    rm -f "$DIR/run/slurmd.pid"
    require_free_port slurmd $((PORT + 1))
    slurmd -f "$CONF" 8>&- 9>&- </dev/null >>"$DIR/log/slurmd.start" 2>&1 ||
      fail "slurmd did not start" "$DIR/log/slurmd.log"
    # The daemon writes its pid file after the starting command has returned.
    wait_until 10 slurmd_running || fail "slurmd exited during start-up" "$DIR/log/slurmd.log"
    say "slurmd started (pid $(slurmd_pid))"
  fi
  resume_node
  wait_until 30 node_ready || {
    [ -n "$(slurmd_pid)" ] || fail "slurmd exited during start-up" "$DIR/log/slurmd.log"
    fail "node $NODE is '$(node_state)', not idle, 30 s after slurmd started" "$DIR/log/slurmd.log"
  }
}

job_state() { timeout 5 scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

job_ended() {
  case $(job_state "$1") in
    PENDING | CONFIGURING | RUNNING | COMPLETING | '') return 1 ;;
    *) return 0 ;;
  esac
}

# The proof the cluster works: a trivial batch job runs to COMPLETED.
probe_job() {
  local start id state
  start=$(now_ms)
  id=$(timeout 10 sbatch --parsable --job-name=slurm-cluster-probe --chdir="$DIR/probe" \
    --output=/dev/null --error=/dev/null --wrap true 2>&1) ||
    fail "sbatch of the probe job failed: $id" "$DIR/log/slurmctld.log"
  id=${id%%;*}
  wait_until 30 job_ended "$id" || fail "probe job $id did not end within 30 s (state $(job_state "$id"))" "$DIR/log/slurmd.log"
  state=$(job_state "$id")
  [ "$state" = COMPLETED ] || fail "probe job $id ended $state, not COMPLETED" "$DIR/log/slurmd.log"
  say "probe job $id (sbatch --wrap true) completed in $(elapsed "$start") s"
}

cmd_up() {
  local start
  start=$(now_ms)
  require_installed
  lock_dir
  # An explicit `up` claims the cluster: only `down` stops it, not the end of a `run`.
  [ "${1:-}" = by-run ] || rm -f "$DIR/run/started-by-run"
  write_conf
  munge_up
  ctld_up
  slurmd_up
  probe_job
  say "cluster up in $(elapsed "$start") s ($DIR)"
  printf 'export SLURM_CONF=%s\n' "$CONF"
}

gone() {
  local pid
  for pid in "$@"; do ! alive "$pid" || return 1; done
}

# Stops daemons, given as NAME=PID (an empty PID: not running): SIGTERM to all at once (each
# takes 1-2 s to go), a wait of up to 30 s, then SIGKILL for any still there.
stop_daemons() {
  local arg name pid pids=() names=()
  for arg in "$@"; do
    name=${arg%%=*} pid=${arg#*=}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    pids+=("$pid") names+=("$name (pid $pid)")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  if ! wait_until 30 gone "${pids[@]}"; then
    for pid in "${pids[@]}"; do
      if alive "$pid"; then
        say "pid $pid still there 30 s after SIGTERM: sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    wait_until 10 gone "${pids[@]}" || fail "pids ${pids[*]} survive SIGKILL"
  fi
  say "stopped ${names[*]}"
}

no_jobs_left() {
  local ids
  ids=$(timeout 5 squeue -h -o %i 2>/dev/null) || return 1
  [ -z "$ids" ]
}

cancel_all_jobs() {
  local ids
  ctld_answers || return 0
  ids=$(timeout 5 squeue -h -o %i 2>/dev/null) || return 0
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # one word per job id
  timeout 10 scancel $ids 2>/dev/null || true
  wait_until 30 no_jobs_left || say "jobs still listed 30 s after scancel: $(timeout 5 squeue -h -o %i | tr '\n' ' ')"
  say "cancelled jobs: $(echo $ids)"
}

# The slurmstepd processes (one per running job) of this cluster: they work in its log
# directory (slurmd's), which tells them from another cluster's.
our_stepds() {
  local pid pids=()
  for pid in $(pgrep -x slurmstepd || true); do
    alive "$pid" && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$DIR/log" ] && pids+=("$pid")
  done
  echo "${pids[*]}"
}

# Pids of slurmctld and slurmd processes started with another directory's slurm.conf.
other_slurm_daemons() {
  local pid cmdline pids=()
  for pid in $(pgrep -x 'slurmctld|slurmd' || true); do
    alive "$pid" || continue
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    case " $cmdline " in
      *" -f $CONF "*) ;;
      *" -f "*) pids+=("$pid") ;;
    esac
  done
  echo "${pids[*]}"
}

cmd_down() {
  local leftover munged others
  require_installed
  lock_dir
  # Jobs are cancelled through the controller, so an outage (ctld-stop) is ended first when
  # slurmd still runs jobs.
  if [ -n "$(slurmd_pid)" ] && [ -z "$(ctld_pid)" ] && [ -e "$CONF" ]; then ctld_up; fi
  cancel_all_jobs
  # munged goes with the Slurm daemons (they need it no more once the jobs are gone): one
  # wait of ~2 s instead of two.
  munged=
  if [ -s "$DIR/run/munged.ours" ] && [ "$(live_pid munged "$MUNGE_PIDFILE")" = "$(cat "$DIR/run/munged.ours")" ]; then
    munged=$(cat "$DIR/run/munged.ours")
    # munged is machine-wide: another directory's cluster (a test's own, a second checkout's)
    # that found ours answering uses it too, and would lose every request from here on.
    others=$(other_slurm_daemons)
    if [ -n "$others" ]; then
      say "munged (pid $munged) left running: other clusters' daemons use it (pids $others)"
      munged=
    fi
  fi
  stop_daemons slurmd="$(slurmd_pid)" slurmctld="$(ctld_pid)" munged="$munged"
  rm -f "$DIR/run/munged.ours"
  rm -f "$DIR/run/started-by-run"
  leftover=$(our_stepds)
  if [ -n "$leftover" ]; then say "job step daemons of this cluster still running (slurmstepd pids): $leftover"; fi
  say "cluster down ($DIR)"
}

cmd_status() {
  [ -e "$CONF" ] || { say "no cluster set up in $DIR (run: scripts/slurm-cluster.sh up)"; exit 1; }
  # Another cluster's controller on this port would answer too.
  [ -n "$(ctld_pid)" ] || { say "slurmctld of $DIR is not running (SLURM_CONF=$CONF)"; exit 1; }
  ctld_answers || { say "slurmctld does not answer (SLURM_CONF=$CONF)"; exit 1; }
  node_ready || { say "slurmctld answers, but node $NODE is '$(node_state)'"; exit 1; }
  say "up: slurmctld answers, node $NODE is $(node_state) (SLURM_CONF=$CONF)"
}

cmd_ctld_stop() {
  require_installed
  lock_dir
  stop_daemons slurmctld="$(ctld_pid)"
}

cmd_ctld_start() {
  [ -e "$CONF" ] || fail "no cluster set up in $DIR (run: scripts/slurm-cluster.sh up)"
  require_installed
  lock_dir
  ctld_up
  # The restarted controller knows the node again once slurmd has registered with it.
  local start
  start=$(now_ms)
  wait_until 10 node_answers || true
  resume_node
  wait_until 30 node_ready || fail "node $NODE is '$(node_state)', not idle, 30 s after slurmctld started" "$DIR/log/slurmctld.log"
  say "node $NODE is $(node_state) $(elapsed "$start") s later"
}

cmd_run() {
  [ $# -gt 0 ] || fail "run needs a command: scripts/slurm-cluster.sh run CMD [ARG...]"
  mkdir -p "$DIR"
  exec 9>>"$DIR/users"
  flock -s 9
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap run_done EXIT
  if ! (cmd_status) 2>/dev/null; then
    # The cluster is this run's to stop if the controller was not running (marked before
    # `up`, so that a cluster left half up by a failing `up` is stopped too). A subshell, so
    # the up lock (descriptor 8) is released when it ends.
    if [ -z "$(ctld_pid)" ]; then
      mkdir -p "$DIR/run"
      touch "$DIR/run/started-by-run"
    fi
    (cmd_up by-run >/dev/null)
  fi
  set +e
  UWSRUN_SLURM_DIR=$DIR UWSRUN_SLURM_PORT=$PORT "$@" 8>&- 9>&-
  RUN_RC=$?
  set -e
  exit "$RUN_RC"
}

# After `run`: the last user out stops a cluster that a `run` started.
run_done() {
  local rc=$?
  if flock -xn 9 && [ -e "$DIR/run/started-by-run" ]; then
    (cmd_down) || rc=1
  fi
  exit "$rc"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  ctld-stop) cmd_ctld_stop ;;
  ctld-start) cmd_ctld_start ;;
  run) shift && cmd_run "$@" ;;
  *)
    say "usage: scripts/slurm-cluster.sh up|down|status|ctld-stop|ctld-start|run CMD [ARG...]"
    exit 2
    ;;
esac
