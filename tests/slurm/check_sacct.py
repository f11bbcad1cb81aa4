"""Check, from a Snakemake log and SLURM accounting, that a run went through SLURM.

    python check_sacct.py --log run.log --gpu-rules 'train_cifar,train_text,train_pack_*' \
        [--min-planned train_cifar=24 --min-planned train_text=16] [--runs-per-allocation 4]

For the Snakemake run recorded in --log (the "SLURM run ID" it printed), it
asserts that
  * every job of a GPU rule was submitted with sbatch (no `localrule`), and
    SLURM accounting has, for each such Snakemake job, a COMPLETED record whose
    ReqTRES and AllocTRES contain gres/gpu=1;
  * every sacct record of the run whose comment names a GPU rule carries
    gres/gpu=1, and their number matches the submissions in the log (so no
    stray or missing sbatch calls);
  * no other rule was given a GPU;
  * the number of GPU-rule jobs is at least the dry-run plan (--min-planned;
    checkpoints can add jobs during the run);
  * packed (--runs-per-allocation K > 1), no allocation trained more than K runs (a
    job's runs are its metrics.json outputs), and fewer allocations than runs.
--gpu-rules takes shell patterns (train_pack_* for the packs' rules).
Exits 1 with one line per problem, 0 otherwise; prints a per-rule table and
`training allocations: A for N training jobs`.
"""

import argparse
import fnmatch
import re
import subprocess
import sys
import time
from collections import defaultdict

RULE_RE = re.compile(r"^(local)?rule (\w+):\s*$")
JOBID_RE = re.compile(r"^\s+jobid: (\d+)\s*$")
OUTPUT_RE = re.compile(r"^\s+output: (.*)$")
SUBMIT_RE = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
RUN_ID_RE = re.compile(r"SLURM run ID: ([0-9a-f-]+)")
FIELDS = ["JobIDRaw", "JobName", "Comment", "State", "ExitCode", "ReqTRES", "AllocTRES", "Elapsed"]
FINAL_STATES = (
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
)
RULER = "=" * 80  # around each log Snakemake prints for a failed job
GPU1 = re.compile(r"(^|,)gres/gpu=1(,|$)")


def parse_log(path):
    """Return run id, {snakemake jobid: rule}, local jobs {jobid: rule}, [(smk jobid, slurm id)],
    {jobid: training runs} (its metrics.json outputs)."""
    run_id, rules, local, submissions, runs = None, {}, {}, [], {}
    current = None  # (rule, is_local) of the job block being read
    outputs = 0  # metrics.json outputs of that block
    dumped = None  # inside a failed job's log that Snakemake prints (a pack's holds its inner run)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if dumped is None and line.startswith("Logfile ") and line.endswith(":"):
                dumped = 0
            if dumped is not None:
                dumped += line == RULER
                dumped = None if dumped == 2 else dumped
                continue
            if match := RUN_ID_RE.search(line):
                run_id = run_id or match.group(1)
            if match := RULE_RE.match(line):
                current, outputs = (match.group(2), bool(match.group(1))), 0
                continue
            if current and (match := OUTPUT_RE.match(line)):
                outputs = sum(name.endswith("/metrics.json") for name in match.group(1).split(", "))
                continue
            if current and (match := JOBID_RE.match(line)):
                jobid = int(match.group(1))
                rules[jobid], runs[jobid] = current[0], outputs
                if current[1]:
                    local[jobid] = current[0]
                current = None
                continue
            if match := SUBMIT_RE.search(line):
                submissions.append((int(match.group(1)), match.group(2)))
    return run_id, rules, local, submissions, runs


def query_sacct(run_id, slurm_ids, attempts=20):
    """sacct records of the run, waiting until all submitted ids are in a final state."""
    records = {}
    for _ in range(attempts):
        out = subprocess.run(
            ["sacct", "-a", "-X", "-P", "-n", "-S", "now-2days", f"--name={run_id}", "-o", ",".join(FIELDS)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        records = {}
        for row in out.splitlines():
            values = row.split("|")
            if len(values) != len(FIELDS):
                continue
            record = dict(zip(FIELDS, values))
            records[record["JobIDRaw"]] = record
        pending = [i for i in slurm_ids if i not in records or not records[i]["State"].startswith(FINAL_STATES)]
        if not pending:
            return records
        time.sleep(3)
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--gpu-rules", required=True, help="comma-separated rule names that must get one GPU")
    parser.add_argument("--min-planned", action="append", default=[], metavar="RULE=N")
    parser.add_argument("--runs-per-allocation", type=int, default=1, metavar="K", help="training runs per allocation")
    args = parser.parse_args()

    min_planned = {k: int(v) for k, v in (item.split("=", 1) for item in args.min_planned)}
    problems = []

    run_id, rules, local, submissions, runs = parse_log(args.log)
    patterns = [p for p in args.gpu_rules.split(",") if p]
    gpu_rules = sorted(
        {rule for rule in rules.values() if any(fnmatch.fnmatch(rule, p) for p in patterns)} | set(min_planned)
    )
    if not run_id:
        sys.exit(f"FAIL: no 'SLURM run ID' in {args.log}: did Snakemake use the slurm executor?")

    for jobid, rule in sorted(local.items()):
        if rule in gpu_rules:
            problems.append(f"{rule} job {jobid} ran as a local rule, not through sbatch")

    slurm_of = defaultdict(list)  # snakemake jobid -> slurm ids (retries add more)
    for jobid, slurm_id in submissions:
        slurm_of[jobid].append(slurm_id)
    all_ids = [s for ids in slurm_of.values() for s in ids]
    records = query_sacct(run_id, all_ids)
    print(f"run {run_id}: {len(submissions)} sbatch submissions, {len(records)} sacct records")

    planned = defaultdict(set)  # rule -> snakemake jobids scheduled
    for jobid, rule in rules.items():
        planned[rule].add(jobid)

    for rule in gpu_rules:
        jobs = sorted(planned.get(rule, ()))
        if len(jobs) < min_planned.get(rule, 1):
            problems.append(f"{rule}: {len(jobs)} jobs ran, the dry run planned {min_planned.get(rule, 1)}")
        gpu_records = 0
        for jobid in jobs:
            ids = slurm_of.get(jobid)
            if not ids:
                problems.append(f"{rule} job {jobid}: never submitted with sbatch")
                continue
            recs = [records.get(i) for i in ids]
            for slurm_id, rec in zip(ids, recs):
                if rec is None:
                    problems.append(f"{rule} job {jobid}: SLURM job {slurm_id} missing from sacct")
                    continue
                for field in ("ReqTRES", "AllocTRES"):
                    if not GPU1.search(rec[field]):
                        problems.append(
                            f"{rule} job {jobid}: SLURM job {slurm_id} {field}={rec[field]!r} lacks gres/gpu=1"
                        )
                if not rec["Comment"].startswith(f"rule_{rule}"):
                    problems.append(
                        f"{rule} job {jobid}: SLURM job {slurm_id} comment {rec['Comment']!r} names another rule"
                    )
                gpu_records += 1
            if not any(rec and rec["State"] == "COMPLETED" for rec in recs):
                states = ", ".join(f"{i}={rec['State'] if rec else '?'}" for i, rec in zip(ids, recs))
                problems.append(f"{rule} job {jobid}: no COMPLETED SLURM job ({states})")
        # Independent of the log: what accounting says about this rule's jobs.
        by_comment = [r for r in records.values() if re.match(rf"rule_{rule}(_wildcards_|$)", r["Comment"])]
        if len(by_comment) != gpu_records:
            problems.append(
                f"{rule}: sacct has {len(by_comment)} records with comment rule_{rule}*, "
                f"the log {gpu_records} submissions"
            )
        bad = [r["JobIDRaw"] for r in by_comment if not GPU1.search(r["AllocTRES"])]
        if bad:
            problems.append(f"{rule}: SLURM jobs without gres/gpu=1: {', '.join(bad)}")
        retried = len(by_comment) - len(jobs)
        tres = sorted({r["AllocTRES"] for r in by_comment})
        print(
            f"  {rule}: {len(jobs)} jobs (dry run planned >= {min_planned.get(rule, '?')}), "
            f"{len(by_comment)} sbatch records ({retried} retries), "
            f"states {dict(sorted(count_states(by_comment).items()))}, AllocTRES {tres}"
        )

    # Allocations: each GPU-rule job is one (its retries aside), training its runs.
    sizes = sorted(runs[jobid] for jobid, rule in rules.items() if rule in gpu_rules and jobid not in local)
    k = args.runs_per_allocation
    print(
        f"training allocations: {len(sizes)} for {sum(sizes)} training jobs "
        f"(ceil({sum(sizes)}/{k}) = {-(-sum(sizes) // k)}; runs per allocation {sizes})"
    )
    if sizes and sizes[-1] > k:
        problems.append(f"an allocation trained {sizes[-1]} runs, more than {k}")
    if k > 1 and sum(sizes) > 1 and len(sizes) >= sum(sizes):
        problems.append(f"packing asked for {k} runs per allocation, but every run had its own")

    others = [r for r in records.values() if not any(r["Comment"].startswith(f"rule_{g}") for g in gpu_rules)]
    with_gpu = [f"{r['JobIDRaw']} ({r['Comment']})" for r in others if "gres/gpu" in r["AllocTRES"]]
    if with_gpu:
        problems.append(f"CPU-only jobs were given a GPU: {', '.join(with_gpu)}")
    states = dict(sorted(count_states(others).items()))
    print(f"  other rules: {len(others)} sbatch records, states {states}, none with a GPU: {not with_gpu}")

    if problems:
        for problem in problems:
            print(f"FAIL: {problem}")
        sys.exit(1)
    print("OK: every GPU-rule job went through sbatch and was accounted with gres/gpu=1")


def count_states(records):
    counts = defaultdict(int)
    for record in records:
        counts[record["State"]] += 1
    return counts


if __name__ == "__main__":
    main()
