#!/usr/bin/env bash
# End-to-end test of profiles/slurm on a real single-node SLURM cluster.
#
#   bash tests/slurm/run_study.sh              # the smoke study (~45 GPU jobs)
#   bash tests/slurm/run_study.sh --selftest   # tiny stand-in workflow, ~1 min
#
# Brings a local cluster up (tests/slurm/cluster.sh; down again on exit,
# whatever happens), runs the workflow with `--profile profiles/slurm` in a
# scratch copy of the working tree, then checks that
#   * Snakemake finished without error,
#   * every train_cifar / train_text job went through sbatch and SLURM
#     accounting (sacct) recorded one GPU (gres/gpu=1) for it, as many jobs as
#     Snakemake planned (check_sacct.py),
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
GPU_RULES=train_cifar,train_text
export NNSTUDY_SLURM_PARTITION=${NNSTUDY_SLURM_PARTITION:-nnstudy-test}
export NNSTUDY_SLURM_ACCOUNT=${NNSTUDY_SLURM_ACCOUNT:-nnstudy-test}

MODE=study
case ${1:-} in
    "") ;;
    --selftest) MODE=selftest ;;
    *) echo "usage: $0 [--selftest]" >&2; exit 2 ;;
esac

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
    CONFIG=(--config preset=smoke "cifar10_dir=$CIFAR")
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
for rule in ${GPU_RULES//,/ }; do
    n=$(awk -v r="$rule" '/^Job stats:/{s=1} s && $1==r {print $2; exit}' plan.log)
    [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || fail "the dry run plans no $rule jobs (see $SCRATCH/plan.log)"
    MIN+=(--min-planned "$rule=$n")
    say "planned: $n $rule jobs"
done
say "planned in total: $(awk '/^Job stats:/{s=1} s && $1=="total" {print $2; exit}' plan.log) jobs (checkpoints may add more)"

# ------------------------------------------------------------- run ----------
say "running the workflow on SLURM (timeout ${TIMEOUT} s; full log: $SCRATCH/run.log)"
t=$SECONDS
# In the foreground (a background job would ignore SIGINT), SIGINT rather
# than SIGTERM on timeout: Snakemake then cancels its SLURM jobs and exits.
# Everything goes to run.log; the terminal gets one line per submission and
# per finished step.
set +e
timeout --foreground -s INT -k 120 "$TIMEOUT" "${SMK[@]}" 2>&1 | tee run.log |
    grep --line-buffered -E 'has been submitted with SLURM jobid|steps \([0-9]+%\) done|^(Error|WorkflowError)|SLURM-job .* failed' |
    sed -u -e 's/^/    /' -e 's/ (log: .*slurm_logs\/\(.*\)\/[0-9]*\.log)\./ [\1]/'
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || { ((rc == 124)) && fail "snakemake timed out after ${TIMEOUT} s"; fail "snakemake exited with $rc"; }
say "workflow finished in $((SECONDS - t)) s"

# ------------------------------------------------------------ checks --------
say "checking SLURM accounting (sacct)"
"$PYTHON" "$HERE/check_sacct.py" --log run.log --gpu-rules "$GPU_RULES" "${MIN[@]}" ||
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

say "PASS ($MODE): SLURM profile ran the workflow; all GPU jobs accounted with gres/gpu=1"
