#!/usr/bin/env bash
# A real, throw-away, single-node SLURM cluster on localhost, for testing the
# workflow's SLURM profile (profiles/slurm) on a CI machine or a laptop VM.
#
#   tests/slurm/cluster.sh up       install packages if needed, write configs, start daemons
#   tests/slurm/cluster.sh status   what is running, sinfo, sacctmgr
#   tests/slurm/cluster.sh down     stop ONLY the daemons this script started, restore configs
#
# Must run as root on Debian/Ubuntu without systemd (daemons are started by
# hand). Pieces: munged (reused if one already answers), a private MariaDB
# instance (own datadir, 127.0.0.1:$NNSTUDY_SLURM_DB_PORT) for slurmdbd, so that
# `sacct` works (the snakemake SLURM plugin polls job states with sacct),
# slurmctld and slurmd. The node advertises NNSTUDY_SLURM_GPUS fake GPUs
# (gres backed by /dev/null-like device files) so `--gpus=1` jobs are scheduled
# and accounted as gres/gpu exactly like on a real GPU cluster.
#
# Everything this script starts is recorded in $NNSTUDY_SLURM_STATE (pid files,
# logs, spool, database); `down` stops only those processes. Existing
# /etc/slurm/{slurm,slurmdbd,gres}.conf files that this script did not write are
# moved to $NNSTUDY_SLURM_STATE/backup on `up` (with a warning) and put back on
# `down`.
#
# Environment (all optional):
#   NNSTUDY_SLURM_STATE      state dir            [/var/tmp/nnstudy-slurm]
#   NNSTUDY_SLURM_PARTITION  partition name       [nnstudy-test]
#   NNSTUDY_SLURM_ACCOUNT    account for root     [nnstudy-test]
#   NNSTUDY_SLURM_GPUS       fake GPUs on node    [2]
#   NNSTUDY_SLURM_CPUS       CPUs the node claims [what slurmd -C finds]; more
#                            than the machine has lets packed allocations of
#                            several small jobs run on a 2-core CI machine
#   NNSTUDY_SLURM_MEMORY_MB  memory the node claims [90% of what slurmd -C finds]
#   NNSTUDY_SLURM_DB_PORT    private MariaDB port [33061]
#   NNSTUDY_SLURM_NO_INSTALL set to 1 to never call apt-get
set -euo pipefail

STATE=${NNSTUDY_SLURM_STATE:-/var/tmp/nnstudy-slurm}
PARTITION=${NNSTUDY_SLURM_PARTITION:-nnstudy-test}
ACCOUNT=${NNSTUDY_SLURM_ACCOUNT:-nnstudy-test}
NGPUS=${NNSTUDY_SLURM_GPUS:-2}
CLAIMED_CPUS=${NNSTUDY_SLURM_CPUS:-}
CLAIMED_MEMORY=${NNSTUDY_SLURM_MEMORY_MB:-}
DB_PORT=${NNSTUDY_SLURM_DB_PORT:-33061}
CLUSTER=nnstudy
ETC=/etc/slurm                      # fixed: slurmstepd/jobstep do not honour SLURM_CONF
MARK="# written by nnstudy tests/slurm/cluster.sh"
CONF_FILES=(slurm.conf slurmdbd.conf gres.conf)
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)

log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; [[ ${CMD:-} == up ]] && log "run '$0 down' to stop what was started"; exit 1; }

# ---------------------------------------------------------------- helpers ----

# wait_for SECONDS DESCRIPTION CMD...: retry CMD every second until it succeeds.
wait_for() {
    local secs=$1 what=$2; shift 2
    local i
    for ((i = 0; i < secs; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    return 1
}

# pid recorded for daemon NAME if that process is still alive and still is NAME.
live_pid() {
    local name=$1 f="$STATE/pids/$1" pid comm
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    comm=$(<"/proc/$pid/comm")
    # mariadbd may show up as mysqld/mariadbd; the others keep their name.
    case $name in
        mariadb) [[ $comm == mariadbd || $comm == mysqld ]] || return 1 ;;
        *) [[ $comm == "$name" ]] || return 1 ;;
    esac
    echo "$pid"
}

# record NAME PIDFILE: copy a daemon's own pid file into our registry.
record() {
    local name=$1 pidfile=$2
    wait_for 20 "$name pid file" test -s "$pidfile" || die "$name wrote no pid file $pidfile (log: $STATE/log/$name.log)"
    cp "$pidfile" "$STATE/pids/$name"
    live_pid "$name" >/dev/null || die "$name died right after start; see $STATE/log/$name.log"
    log "$name started (pid $(<"$STATE/pids/$name"))"
}

stop_daemon() {
    local name=$1 pid i
    if ! pid=$(live_pid "$name"); then
        rm -f "$STATE/pids/$name"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.5
    done
    if [[ -d /proc/$pid ]]; then
        log "$name did not stop within 15 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pids/$name"
}

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
db() { mariadb --no-defaults -S "$STATE/mysql.sock" -u root "$@"; }

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ ${NNSTUDY_SLURM_NO_INSTALL:-0} == 1 ]] && die "missing packages: ${missing[*]} (and NNSTUDY_SLURM_NO_INSTALL=1)"
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # No systemd/init here: keep package scripts from trying to start services.
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$STATE/log/apt.log" 2>&1 ||
        { apt-get update -q >>"$STATE/log/apt.log" 2>&1 &&
          apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$STATE/log/apt.log" 2>&1; } ||
        { tail -n 20 "$STATE/log/apt.log" >&2; die "apt-get install failed (log: $STATE/log/apt.log)"; }
}

# A SLURM daemon that this script did not start means a real installation:
# do not take over its ports and configuration.
refuse_foreign_daemons() {
    local d pids
    for d in slurmctld slurmd slurmdbd; do
        live_pid "$d" >/dev/null && continue
        if pids=$(pgrep -x "$d"); then
            die "$d is already running (pid $(echo $pids)) and was not started by this script; stop it first"
        fi
    done
}

# Move foreign config files out of the way (restored by `down`).
backup_configs() {
    local f
    mkdir -p "$STATE/backup" "$ETC"
    for f in "${CONF_FILES[@]}"; do
        [[ -e $ETC/$f ]] || continue
        if head -n 1 "$ETC/$f" | grep -qF "$MARK"; then continue; fi   # ours, stale
        if [[ -e $STATE/backup/$f ]]; then
            die "$ETC/$f is not ours and a backup already exists in $STATE/backup; resolve by hand"
        fi
        log "WARNING: $ETC/$f exists and was not written by this script; moving it to $STATE/backup/$f (restored on 'down')"
        mv "$ETC/$f" "$STATE/backup/$f"
    done
}

restore_configs() {
    local f
    for f in "${CONF_FILES[@]}"; do
        if [[ -e $ETC/$f ]] && head -n 1 "$ETC/$f" | grep -qF "$MARK"; then
            rm -f "$ETC/$f"
        fi
        if [[ -e $STATE/backup/$f ]]; then
            if [[ -e $ETC/$f ]]; then
                log "WARNING: $ETC/$f was replaced by someone else meanwhile; leaving our backup at $STATE/backup/$f"
            else
                mv "$STATE/backup/$f" "$ETC/$f"
                log "restored original $ETC/$f"
            fi
        fi
    done
    rmdir "$STATE/backup" 2>/dev/null || true
}

write_configs() {
    local host cpus mem gpu_files gres_line i
    host=$(hostname -s)
    # Let slurmd describe the real hardware (CPUs, sockets, cores, memory);
    # a node that claims more than it has is drained by slurmctld.
    read -r -a hw < <(slurmd -C | head -n 1)
    local node_hw=() kv
    for kv in "${hw[@]}"; do
        case $kv in CPUs=* | Boards=* | SocketsPerBoard=* | CoresPerSocket=* | ThreadsPerCore=*) node_hw+=("$kv") ;; esac
        case $kv in CPUs=*) cpus=${kv#CPUs=} ;; esac
        case $kv in RealMemory=*) mem=${kv#RealMemory=} ;; esac
    done
    [[ -n ${cpus:-} && -n ${mem:-} ]] || die "could not read CPUs/RealMemory from 'slurmd -C'"
    # Claiming more CPUs or memory than there is needs config_overrides, or
    # slurmctld drains the node.
    local overrides=""
    if [[ -n $CLAIMED_CPUS ]]; then
        [[ $CLAIMED_CPUS =~ ^[1-9][0-9]*$ ]] || die "NNSTUDY_SLURM_CPUS must be a positive integer, not '$CLAIMED_CPUS'"
        node_hw=("CPUs=$CLAIMED_CPUS")
        overrides="SlurmdParameters=config_overrides"
    fi
    # Leave some memory for the OS and the daemons themselves.
    mem=$((mem * 9 / 10))
    if [[ -n $CLAIMED_MEMORY ]]; then
        [[ $CLAIMED_MEMORY =~ ^[1-9][0-9]*$ ]] || die "NNSTUDY_SLURM_MEMORY_MB must be a positive integer, not '$CLAIMED_MEMORY'"
        mem=$CLAIMED_MEMORY
        overrides="SlurmdParameters=config_overrides"
    fi

    # Fake GPUs: gres needs one device file per GPU (file-less ones are
    # dropped); character devices cloned from /dev/null do no harm.
    mkdir -p "$STATE/dev"
    gpu_files=()
    for ((i = 0; i < NGPUS; i++)); do
        [[ -e $STATE/dev/fakegpu$i ]] || mknod "$STATE/dev/fakegpu$i" c 1 3
        gpu_files+=("$STATE/dev/fakegpu$i")
    done
    gres_line=$(IFS=,; echo "${gpu_files[*]}")

    cat >"$ETC/slurm.conf" <<EOF
$MARK -- do not edit; removed by 'cluster.sh down'
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers/CI VMs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
ReturnToService=2
# Keep finished jobs visible to squeue for a while (sacct is used anyway).
MinJobAge=300
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5
# Cores and memory are consumable, so several jobs share the node;
# DefMemPerCPU keeps a job without --mem from taking all memory.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
# Store the plugin's --comment (rule name + wildcards) so sacct can show it.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
$overrides
NodeName=$host NodeAddr=127.0.0.1 ${node_hw[*]} RealMemory=$mem Gres=gpu:$NGPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

    cat >"$ETC/gres.conf" <<EOF
$MARK -- do not edit; removed by 'cluster.sh down'
NodeName=$host Name=gpu File=$gres_line
EOF

    cat >"$ETC/slurmdbd.conf" <<EOF
$MARK -- do not edit; removed by 'cluster.sh down'
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(<"$STATE/dbpass")
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$ETC/slurmdbd.conf"
    log "wrote $ETC/slurm.conf (node $host: ${node_hw[*]} RealMemory=$mem, $NGPUS fake GPU(s), partition $PARTITION)"
}

# --------------------------------------------------------------- daemons ----

start_munge() {
    if munge_ok; then
        log "munged already running (not ours, will be left alone)"
        return 0
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid --log-file="/var/log/munge/munged.log" ||
        die "munged failed to start (see /var/log/munge/munged.log)"
    record munged /run/munge/munged.pid
    wait_for 10 munge munge_ok || die "munge does not answer"
}

start_mariadb() {
    if live_pid mariadb >/dev/null; then log "mariadb already running (ours)"; return 0; fi
    if [[ ! -d $STATE/mysql/mysql ]]; then
        log "initialising private MariaDB datadir $STATE/mysql"
        mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$STATE/log/mariadb-install.log" 2>&1 ||
            { tail -n 20 "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    # Detached, with its own socket/port/pid file; nothing in /etc/mysql is used.
    setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" \
        --socket="$STATE/mysql.sock" --pid-file="$STATE/run/mariadb.pid" \
        --port="$DB_PORT" --bind-address=127.0.0.1 \
        --log-error="$STATE/log/mariadb.log" \
        --innodb-buffer-pool-size=64M --skip-name-resolve \
        </dev/null >/dev/null 2>&1 &
    disown || true
    record mariadb "$STATE/run/mariadb.pid"
    wait_for 60 mariadb mariadb-admin --no-defaults -S "$STATE/mysql.sock" -u root ping ||
        die "MariaDB did not come up (log: $STATE/log/mariadb.log)"
    local pw
    pw=$(<"$STATE/dbpass")
    db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pw';
           CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pw';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
           FLUSH PRIVILEGES;" || die "could not create the slurm database user"
}

start_slurmdbd() {
    if live_pid slurmdbd >/dev/null; then log "slurmdbd already running (ours)"; return 0; fi
    slurmdbd || die "slurmdbd failed to start (log: $STATE/log/slurmdbd.log)"
    record slurmdbd "$STATE/run/slurmdbd.pid"
    wait_for 60 slurmdbd sacctmgr -n list cluster ||
        { tail -n 20 "$STATE/log/slurmdbd.log" >&2; die "slurmdbd does not answer"; }
    # Register cluster, account and user so that sacct/sacctmgr (and the
    # plugin's account validation) see them.
    sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i -Q add account "$ACCOUNT" Cluster="$CLUSTER" Description="nnstudy test" Organization=test >/dev/null 2>&1 || true
    sacctmgr -i -Q add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
}

start_slurmctld() {
    if live_pid slurmctld >/dev/null; then log "slurmctld already running (ours)"; return 0; fi
    slurmctld -c || die "slurmctld failed to start (log: $STATE/log/slurmctld.log)"
    record slurmctld "$STATE/run/slurmctld.pid"
    wait_for 60 slurmctld scontrol ping ||
        { tail -n 20 "$STATE/log/slurmctld.log" >&2; die "slurmctld does not answer"; }
}

start_slurmd() {
    if live_pid slurmd >/dev/null; then log "slurmd already running (ours)"; return 0; fi
    slurmd || die "slurmd failed to start (log: $STATE/log/slurmd.log)"
    record slurmd "$STATE/run/slurmd.pid"
    node_idle() { sinfo -h -N -p "$PARTITION" -o '%T' | grep -qE '^(idle|mixed|allocated)'; }
    if ! wait_for 60 "node idle" node_idle; then
        sinfo -N -l >&2 || true
        tail -n 20 "$STATE/log/slurmd.log" "$STATE/log/slurmctld.log" >&2 || true
        die "node did not become idle"
    fi
}

# Submit one GPU job and check that accounting recorded its GPU.
smoke_job() {
    local id tres
    id=$(sbatch --parsable -p "$PARTITION" -A "$ACCOUNT" --gpus=1 --mem=100 -t 1 -J cluster-selftest \
        -o /dev/null --wrap 'test -n "${CUDA_VISIBLE_DEVICES-}" || test -n "${SLURM_JOB_GPUS-}"') ||
        die "sbatch of the self-test job failed"
    job_done() { sacct -n -X -j "$id" -o State%20 | grep -qE 'COMPLETED|FAILED|CANCELLED|TIMEOUT'; }
    wait_for 60 "self-test job" job_done || die "self-test job $id did not finish (squeue: $(squeue -h 2>&1))"
    sacct -n -X -j "$id" -o State%20 | grep -q COMPLETED || die "self-test job $id did not complete: $(sacct -n -X -j "$id" -o State,ExitCode)"
    tres=$(sacct -n -X -j "$id" -o AllocTRES%200)
    [[ $tres == *gres/gpu=1* ]] || die "self-test job $id: no gres/gpu=1 in AllocTRES ($tres)"
    log "self-test job $id COMPLETED with AllocTRES: $(echo $tres)"
}

# ------------------------------------------------------------- commands -----

cmd_up() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    local t0=$SECONDS
    mkdir -p "$STATE"/{log,run,pids,slurmctld,slurmd}
    chmod 700 "$STATE"
    install_packages
    refuse_foreign_daemons
    [[ -s $STATE/dbpass ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE/dbpass")
    backup_configs
    write_configs
    start_munge
    start_mariadb
    start_slurmdbd
    start_slurmctld
    start_slurmd
    smoke_job
    log "cluster '$CLUSTER' up in $((SECONDS - t0)) s: partition=$PARTITION account=$ACCOUNT gpus=$NGPUS cpus=${CLAIMED_CPUS:-as found} state=$STATE"
}

cmd_down() {
    [[ -d $STATE ]] || { log "nothing to do ($STATE does not exist)"; return 0; }
    if live_pid slurmctld >/dev/null; then
        scancel --cluster="$CLUSTER" --full --user=root 2>/dev/null || scancel --user=root 2>/dev/null || true
        wait_for 20 "jobs gone" bash -c '[[ -z $(squeue -h 2>/dev/null) ]]' || log "WARNING: jobs still listed by squeue"
    fi
    local d
    for d in slurmd slurmctld slurmdbd mariadb munged; do stop_daemon "$d"; done
    restore_configs
    if [[ ${NNSTUDY_SLURM_KEEP_STATE:-0} == 1 ]]; then
        log "keeping $STATE (NNSTUDY_SLURM_KEEP_STATE=1)"
    else
        rm -rf "$STATE"
    fi
    log "cluster down"
}

cmd_status() {
    local d pid rc=0
    for d in munged mariadb slurmdbd slurmctld slurmd; do
        if pid=$(live_pid "$d"); then echo "$d: running (pid $pid, started by cluster.sh)"; else echo "$d: not running (not started by cluster.sh)"; [[ $d == munged ]] || rc=1; fi
    done
    if ((rc == 0)); then
        sinfo -N -o '%N %P %T %c %m %G' || rc=1
        sacctmgr -n -P list association format=cluster,account,user || rc=1
    fi
    return $rc
}

CMD=${1:-}
case $CMD in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
