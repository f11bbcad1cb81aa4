#!/usr/bin/env bash
# End-to-end test of profiles/slurm on a real single-node SLURM cluster.
#
#   bash tests/slurm/run_study.sh                    # a small study (16 GPU jobs)
#   bash tests/slurm/run_study.sh --runs-per-allocation 4   # the same, packed: 4 training jobs per allocation
#   bash tests/slurm/run_study.sh --selftest         # tiny stand-in workflow, ~1 min
#
# Brings a local cluster up (tests/slurm/cluster.sh; down again on exit,
# whatever happens), runs the workflow with `--profile profiles/slurm` in a
# scratch copy of the working tree, then checks that
#   * Snakemake finished without error,
#   * every train_cifar / train_text job went through sbatch and SLURM
#     accounting (sacct) recorded one GPU (gres/gpu=1) for it, as many jobs as
#     Snakemake planned (check_sacct.py); packed (--runs-per-allocation K, which sets
#     the config's cluster.runs_per_allocation), at most K training runs per
#     allocation, one GPU each, and it prints
#     `training allocations: A for N training jobs`,
#   * packed, two faults injected while the study runs did what they should:
#     one run SIGKILLed mid-training in one allocation resumed on the retry
#     and its neighbours did not train again; another allocation stopped by
#     SIGTERM saved its runs and the retry resumed them,
#   * nothing is left to do (`snakemake -n`, `--summary`).
# Must run as root (it starts slurmctld/slurmd/slurmdbd/munged/mariadbd).
#
# Environment (optional): NNSTUDY_SLURM_TIMEOUT (seconds for the run, default
# 2400), NNSTUDY_SLURM_KEEP=1 (keep the scratch copy and the cluster state for
# debugging), SNAKEMAKE (snakemake executable; default .venv/bin/snakemake),
# plus the NNSTUDY_SLURM_* variables of cluster.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=${NNSTUDY_SHARED:-$REPO/../shared}
SNAKEMAKE=${SNAKEMAKE:-$REPO/.venv/bin/snakemake}
PYTHON=$(dirname "$SNAKEMAKE")/python
TIMEOUT=${NNSTUDY_SLURM_TIMEOUT:-2400}
GPU_RULES="train_cifar,train_text,train_pack_*"
export NNSTUDY_SLURM_PARTITION=${NNSTUDY_SLURM_PARTITION:-nnstudy-test}
export NNSTUDY_SLURM_ACCOUNT=${NNSTUDY_SLURM_ACCOUNT:-nnstudy-test}

MODE=study
PACK=1
usage() { echo "usage: $0 [--selftest | --runs-per-allocation K]" >&2; exit 2; }
case ${1:-} in
    "") ;;
    --selftest) MODE=selftest ;;
    --runs-per-allocation) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; PACK=$2 ;;
    *) usage ;;
esac
# A packed allocation asks for the cores and memory of K jobs (rules/packs.smk),
# 4 GB more per job on each retry: let the 2-core CI node claim the cores of
# one such allocation beside two small jobs, and the memory of its third attempt.
if ((PACK > 1)); then
    export NNSTUDY_SLURM_CPUS=${NNSTUDY_SLURM_CPUS:-$((PACK + 2))}
    export NNSTUDY_SLURM_MEMORY_MB=${NNSTUDY_SLURM_MEMORY_MB:-$(((3 * PACK + 2) * 4000))}
fi

T0=$SECONDS
say() { printf '[slurm-test %s +%ds] %s\n' "$(date +%T)" "$((SECONDS - T0))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

[[ $(id -u) == 0 ]] || fail "must run as root (it starts the SLURM daemons)"
[[ -x $SNAKEMAKE ]] || fail "no snakemake at $SNAKEMAKE (create the venv first, or set SNAKEMAKE)"
[[ -x $PYTHON ]] || fail "no python next to $SNAKEMAKE"
"$PYTHON" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null ||
    fail "snakemake-executor-plugin-slurm is not installed in $(dirname "$SNAKEMAKE")/.."

SCRATCH=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if ((rc != 0)); then
        say "run failed (exit $rc); last lines of the logs:"
        [[ -n $SCRATCH && -f $SCRATCH/run.log ]] && tail -n 60 "$SCRATCH/run.log"
        if [[ -n $SCRATCH && -d $SCRATCH/.snakemake/slurm_logs ]]; then
            find "$SCRATCH/.snakemake/slurm_logs" -name '*.log' -print0 | xargs -0 -r ls -t | head -n 3 |
                while read -r f; do echo "--- $f"; tail -n 30 "$f"; done
        fi
        tail -n 15 "${NNSTUDY_SLURM_STATE:-/var/tmp/nnstudy-slurm}"/log/slurm{ctld,d}.log 2>/dev/null
    fi
    if [[ ${NNSTUDY_SLURM_KEEP:-0} == 1 ]]; then
        say "keeping scratch copy $SCRATCH and the cluster state (NNSTUDY_SLURM_KEEP=1)"
        NNSTUDY_SLURM_KEEP_STATE=1 bash "$HERE/cluster.sh" down
    else
        bash "$HERE/cluster.sh" down
        [[ -n $SCRATCH ]] && rm -rf "$SCRATCH"
    fi
    say "total $((SECONDS - T0)) s, exit $rc"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------- cluster up -------
say "bringing the SLURM cluster up"
t=$SECONDS
bash "$HERE/cluster.sh" up
say "cluster up in $((SECONDS - t)) s"

# ----------------------------------------------------- scratch copy ---------
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/nnstudy-slurm-run.XXXXXX")
if [[ $MODE == selftest ]]; then
    cp "$HERE/selftest/Snakefile" "$SCRATCH/"
    CONFIG=()
else
    # The working tree as git sees it (tracked + untracked, minus .gitignore'd
    # results/.venv/.snakemake/...), so uncommitted work is tested too and the
    # repository's own results and Snakemake state are never touched.
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$SCRATCH" -xf -
    [[ -f $SCRATCH/Snakefile ]] || fail "no Snakefile in the copy of $REPO"
    CIFAR=$(cd "$SHARED/data/cifar10" 2>/dev/null && pwd) || fail "no CIFAR-10 data at $SHARED/data/cifar10"
    # A1, A2 on a 2 x 4 grid and B5 (16 runs, both parts, the report): enough to pack, retry and report.
    # Part A's runs take 8 epochs of 512 images with a checkpoint after each, long enough for the faults
    # below to catch them mid-training; Part B's take the smoke preset's 2 epochs of 256 texts.
    CONFIG=(--config "cifar10_dir=$CIFAR" "questions=[a1, a2, b5]" "cluster={runs_per_allocation: $PACK}"
            "part_a={epochs: 8, train_limit: 512, test_limit: 128, grid: {c1: [10, 50], c2: [20, 40, 60, 80]}}"
            "part_b={epochs: 2, train_limit: 256, test_limit: 128}" "training={threads: 1, checkpoint_seconds: 0}")
fi
say "scratch copy: $SCRATCH ($(find "$SCRATCH" -type f | wc -l) files)"
cd "$SCRATCH"

# The profile under test, as users run it; only cluster-specific values are
# set from outside: partition and account through the variables the profile
# reads, and a shorter first status check (the profile's 40 s suits a real
# cluster, not jobs of a few seconds).
export SNAKEMAKE_SLURM_PARTITION=$NNSTUDY_SLURM_PARTITION
export SNAKEMAKE_SLURM_ACCOUNT=$NNSTUDY_SLURM_ACCOUNT
# profiles/default is loaded too (Snakemake's automatic workflow profile) and
# wins over --profile: it must set nothing that limits a cluster run (no
# `cores`, no global `resources`); the job counts below check that it doesn't.
SMK=("$SNAKEMAKE" --profile "$REPO/profiles/slurm"
     --slurm-init-seconds-before-status-checks 5 "${CONFIG[@]}")

# ------------------------------------------------------------ plan ----------
"${SMK[@]}" -n >plan.log 2>&1 || { cat plan.log; fail "dry run failed"; }
grep -Eq "^Using profiles? .*profiles/slurm" plan.log ||
    { grep "^Using" plan.log; fail "snakemake did not load profiles/slurm"; }
MIN=()
planned=0
while read -r rule n; do
    for pattern in ${GPU_RULES//,/ }; do
        # shellcheck disable=SC2053  # a glob on purpose: train_pack_*
        [[ $rule == $pattern ]] || continue
        MIN+=(--min-planned "$rule=$n")
        planned=$((planned + n))
    done
done < <(awk '/^Job stats:/{s=1; next} s && $2 ~ /^[0-9]+$/ {print $1, $2} s && $1=="total" {exit}' plan.log)
((planned > 0)) || fail "the dry run plans no GPU jobs ($GPU_RULES; see $SCRATCH/plan.log)"
say "planned: $planned GPU jobs: ${MIN[*]//--min-planned /}"
say "planned in total: $(awk '/^Job stats:/{s=1} s && $1=="total" {print $2; exit}' plan.log) jobs (checkpoints may add more)"

# ----------------------------------------------------------- faults ---------
# Packed, two faults hit the study while it runs, each in its own allocation, each checked afterwards
# from its own runs' log lines (Part A's packs: train_pack_0 and train_pack_1):
#   * what the OOM killer does: SIGKILL one run's training process in pack 0 mid-training. Its neighbours
#     finish; the allocation fails and the profile's retry runs the pack again: the killed run must resume
#     from its last checkpoint, and the finished ones must not train again;
#   * what preemption and the time limit do: scancel --signal=TERM pack 1's allocation mid-training. Every
#     run saves its finished epochs and stops; the retried allocation resumes them.
runs_of() {  # the run folders a pack trains: its job block's outputs in the dry run
    awk -v rule="rule $1:" '$0 == rule {block = 1; next} block && /^ +output: / {print; exit}' plan.log |
        grep -o 'results/part_a/runs/[^ ,]*/metrics.json' | xargs -r -n 1 dirname
}
past_epoch_2() { grep -q "^\[[0-9:]*\] epoch 2/" "logs/$1.log" 2>/dev/null; }
inject_faults() {  # in the background while the study runs; writes what it hit to fault-kill, fault-term
    local run filter jobid
    while [[ ! -s fault-kill ]]; do
        sleep 0.5
        for run in "${KILL_RUNS[@]}"; do
            past_epoch_2 "$run" || continue
            # The job's log filter (nnstudy.logfilter) names the log; its parent trains.
            filter=$(pgrep -f "nnstudy.logfilter logs/$run.log") || continue
            kill -KILL "$(ps -o ppid= -p "$filter")" && echo "$run" >fault-kill && break
        done
    done
    while [[ ! -s fault-term ]]; do
        sleep 0.5
        for run in "${TERM_RUNS[@]}"; do
            past_epoch_2 "$run" || continue
            jobid=$(grep -o "submitted with SLURM jobid [0-9]* (log: [^)]*/rule_train_pack_1/" run.log |
                tail -n 1 | awk '{print $5}')
            [[ -n $jobid ]] && scancel --signal=TERM "$jobid" && echo "$jobid" >fault-term && break
        done
    done
}
FAULTS=0
if ((PACK > 1)) && [[ $MODE == study ]]; then
    FAULTS=1
    mapfile -t KILL_RUNS < <(runs_of train_pack_0)
    mapfile -t TERM_RUNS < <(runs_of train_pack_1)
    ((${#KILL_RUNS[@]} > 1 && ${#TERM_RUNS[@]} > 1)) ||
        fail "the dry run packs ${#KILL_RUNS[@]} and ${#TERM_RUNS[@]} Part A runs in train_pack_0 and train_pack_1"
    say "faults: SIGKILL one run of train_pack_0 (${#KILL_RUNS[@]} runs), SIGTERM to train_pack_1's allocation," \
        "each once a run is past epoch 2 of 8"
fi

# ------------------------------------------------------------- run ----------
say "running the workflow on SLURM (timeout ${TIMEOUT} s; full log: $SCRATCH/run.log)"
t=$SECONDS
if ((FAULTS)); then
    : >run.log
    inject_faults &
    injector=$!
fi
# In the foreground (a background job would ignore SIGINT), SIGINT rather
# than SIGTERM on timeout: Snakemake then cancels its SLURM jobs and exits.
# Everything goes to run.log; the terminal gets one line per submission and
# per finished step.
set +e
timeout --foreground -s INT -k 120 "$TIMEOUT" "${SMK[@]}" 2>&1 | tee run.log |
    grep --line-buffered -E 'has been submitted with SLURM jobid|steps \([0-9]+%\) done|^(Error|WorkflowError)|SLURM-job .* failed' |
    sed -u -e 's/^/    /' -e 's/ (log: .*slurm_logs\/\(.*\)\/[0-9]*\.log)\./ [\1]/'
rc=${PIPESTATUS[0]}
((FAULTS)) && kill "$injector" 2>/dev/null
set -e
((rc == 0)) || { ((rc == 124)) && fail "snakemake timed out after ${TIMEOUT} s"; fail "snakemake exited with $rc"; }
say "workflow finished in $((SECONDS - t)) s"

# ------------------------------------------------------------ checks --------
say "checking SLURM accounting (sacct)"
"$PYTHON" "$HERE/check_sacct.py" --log run.log --gpu-rules "$GPU_RULES" "${MIN[@]}" --runs-per-allocation "$PACK" ||
    fail "SLURM accounting check failed"

say "checking that nothing is left to do"
"${SMK[@]}" -n >after.log 2>&1 || { cat after.log; fail "dry run after the study failed"; }
grep -q "Nothing to be done" after.log || { tail -n 40 after.log; fail "outputs incomplete: snakemake -n still plans jobs"; }
"${SMK[@]}" --summary >summary.tsv 2>summary.err || { cat summary.err; fail "snakemake --summary failed"; }
# Columns by header name; temp() outputs that were removed are fine.
bad=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    !("status" in col) || !("plan" in col) { print "unexpected --summary header"; exit }
    ($col["status"] != "ok" && $col["status"] != "removed temp file") || $col["plan"] != "no update"' summary.tsv)
[[ -z $bad ]] || { echo "$bad" | head -n 20; fail "snakemake --summary lists outputs that are missing or need an update"; }
say "summary: $(($(wc -l <summary.tsv) - 1)) outputs, all ok"

# ------------------------------------------------------- fault checks -----
if ((FAULTS)); then
    say "checking the faults"
    [[ -s fault-kill ]] || fail "no run of train_pack_0 was caught past epoch 2 of 8 (see $SCRATCH/run.log)"
    killed=$(<fault-kill)
    resumed=$(grep -o "resuming after epoch [0-9]* of 8" "logs/$killed.log") ||
        fail "$killed did not resume from its checkpoint: $(grep -v '] epoch ' "logs/$killed.log" | head -n 5)"
    for run in "${KILL_RUNS[@]}"; do
        [[ $run == "$killed" ]] && continue
        grep -q "all 8 epochs are in the resume state" "logs/$run.log" ||
            fail "$run trained again after the retry: $(grep -v '] epoch ' "logs/$run.log" | head -n 5)"
    done
    say "fault: killed $(basename "$killed") past epoch 2; the retried allocation resumed it ($resumed)" \
        "and rewrote its $((${#KILL_RUNS[@]} - 1)) neighbours from their final state"

    [[ -s fault-term ]] || fail "train_pack_1 was not caught past epoch 2 of 8 (see $SCRATCH/run.log)"
    jobid=$(<fault-term)
    # The stopped attempt's job logs are rewritten by the retry; its allocation's SLURM log keeps the line.
    slurm_log=$(find .snakemake/slurm_logs -name "$jobid.log" | head -n 1)
    grep -q "stopped by SIGTERM" "$slurm_log" ||
        fail "allocation $jobid did not log 'stopped by SIGTERM': $(tail -n 5 "$slurm_log")"
    resumed=0
    for run in "${TERM_RUNS[@]}"; do
        if grep -q "resuming after epoch [0-9]* of 8" "logs/$run.log"; then resumed=$((resumed + 1)); fi
    done
    ((resumed > 0)) || fail "no run of train_pack_1 resumed after SIGTERM"
    for run in "${KILL_RUNS[@]}" "${TERM_RUNS[@]}"; do
        epochs=$("$PYTHON" -c "import json, sys; print(len(json.load(open(sys.argv[1]))['history']))" "$run/metrics.json")
        [[ $epochs == 8 ]] || fail "$run/metrics.json holds $epochs epochs, not 8"
    done
    say "fault: SIGTERM to allocation $jobid: its runs saved and stopped; the retry resumed $resumed of them"
fi

say "PASS ($MODE, $PACK training job(s) per allocation): SLURM profile ran the workflow; all GPU jobs accounted with gres/gpu=1"
