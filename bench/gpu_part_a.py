"""Part A's packs on a lent GPU machine in one call that fits its minutes; run by bench/gpu_part_a.sh.

    python bench/gpu_part_a.py {grid | a3 C1 C2 | all} --started EPOCH_SECONDS --out OUT
                               [--phase NAME=SECONDS ...] [--configfile FILE ...]

1. The config: the study's GPU settings (bench/gpu_part_a.yaml, then each --configfile: the rehearsal's
   sizes) and this call's own (.gpu-part-a/call.yaml): the CIFAR-10 files carried in .gpudata/, A3's pair
   for `a3` (pinned: the grid's choice in the call before), the deadline.
2. The packs, through Snakemake: `grid` A1 and A2's grid (one pack) and the pair it picks, `a3 C1 C2` A3's
   four runs at that pair (one pack), `all` the grid, then A3 at its pick. No pack starts after the
   deadline, nor a chunk of epochs that its pace says would end after it: it stops with its state saved,
   and the same call on the same warm machine continues it. Snakemake is stopped (SIGTERM: its jobs save
   their states) at the hard stop, which leaves the time to pack.
3. The summary (phases, device, flags, each run's state) and OUT (nnstudy.study.handback: metrics and
   histories always, weights as far as they fit, A1's first), its limits checked as it is at the end.

Exit status 0 when every run of the call is done, 1 when some are not (OUT is filled either way).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from nnstudy.commands import status
from nnstudy.errors import StudyError
from nnstudy.study import handback, packs, plan, settings

GPU_CONFIG = Path(__file__).with_name("gpu_part_a.yaml")
CALL = Path(handback.CALL_FOLDER)
CARRIED_CIFAR10 = Path(".gpudata/cifar10")
# Seconds kept at the end of the budget: to pack OUT; and before that, between the deadline and the hard
# stop, for the packs to write their runs' outputs (models, metrics, plots) after their last chunk.
PACK_SECONDS = 45
FINISH_SECONDS = 60


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def call_config(args, deadline: float) -> Path:
    """This call's own settings, laid over the study's: none of them is a run's setting."""
    config = {"training": {"deadline": stamp(deadline), "gpu": {"jobs_per_gpu": 1}}}
    if CARRIED_CIFAR10.is_dir():
        config["cifar10_dir"] = str(CARRIED_CIFAR10.resolve())
    if args.mode == "a3":
        config["part_a"] = {"optimum": [args.c1, args.c2]}
    CALL.mkdir(exist_ok=True)
    path = CALL / "call.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def pack_targets(study: dict, name: str, **pair) -> list[str]:
    """The metrics.json of every run of the scan pack `name` (grid, a3) at each of Part A's seeds."""
    [pack] = [p for p in packs.study_packs(study) if p.engine == "scan" and Path(p.name).name.startswith(name)]
    seeds = plan.part_seeds(study, "part_a")
    return [f"{run.format(seed=seed, **pair)}/metrics.json" for seed in seeds for run in pack.runs]


def snakemake(configfiles: list[Path], targets: list[str], stop_at: float, log: Path) -> int:
    """Snakemake on `targets` until `stop_at` (then SIGTERM to it and its jobs, SIGKILL 30 s later)."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(os.cpu_count()), "--resources", "gpu=1"]
    command += ["--scheduler", "greedy", "--configfile", *map(str, configfiles), "--", *targets]
    with log.open("a") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return process.wait(timeout=max(1.0, stop_at - time.time()))
        except subprocess.TimeoutExpired:
            print(f"hard stop at {stamp(stop_at)}: SIGTERM to Snakemake and its jobs (they save their state)")
            os.killpg(process.pid, signal.SIGTERM)
            try:
                return process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                return process.wait()


def device() -> dict:
    """The accelerator JAX sees, its version, the XLA flags and the compile cache the call gave its jobs."""
    flags = {key: os.environ.get(key, "") for key in ("XLA_FLAGS", "JAX_COMPILATION_CACHE_DIR")}
    try:
        import jax

        first = jax.devices()[0]
    except Exception as err:  # noqa: BLE001  the summary and OUT come first: say what JAX said instead
        return {"error": f"{type(err).__name__}: {err}"} | flags
    return {"platform": first.platform, "name": first.device_kind, "jax": jax.__version__} | flags


def runs_made(targets: list[str]) -> list[dict]:
    """How the finished runs of the call were made: device, matmul precision as it ran, determinism."""
    made = {}
    for target in targets:
        try:
            document = json.loads(Path(target).read_text())
        except (OSError, ValueError):
            continue
        hyperparameters = document["hyperparameters"]
        key = (document["device"]["name"], hyperparameters.get("matmul_precision"), document["device"]["deterministic"])
        made[key] = made.get(key, 0) + 1
    return [{"device": d, "matmul_precision": m, "deterministic": det, "runs": n} for (d, m, det), n in made.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["grid", "a3", "all"])
    parser.add_argument("pair", nargs="*", type=int, help="a3: the grid's pair, C1 C2")
    parser.add_argument("--started", type=float, required=True, help="when the call started (seconds since 1970)")
    parser.add_argument("--budget", type=float, default=float(os.environ.get("BUDGET_SECONDS", "570")))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--phase", action="append", default=[], metavar="NAME=SECONDS")
    parser.add_argument("--configfile", type=Path, action="append", default=[])
    args = parser.parse_args()
    if (args.mode == "a3") != (len(args.pair) == 2):
        parser.error("a3 takes the grid's pair, C1 C2; grid and all take none")
    args.c1, args.c2 = args.pair or (None, None)

    end = args.started + args.budget
    stop_at, deadline = end - PACK_SECONDS, end - PACK_SECONDS - FINISH_SECONDS
    configfiles = [GPU_CONFIG, *args.configfile, call_config(args, deadline)]
    try:
        study = settings.load(Path("."), configfiles)
    except StudyError as err:
        sys.exit(f"error: {err}")
    phases = {name: float(seconds) for name, seconds in (phase.split("=", 1) for phase in args.phase)}
    print(f"deadline {stamp(deadline)} (no chunk of epochs ends after it), hard stop {stamp(stop_at)}")
    log, exits = CALL / "snakemake.log", {}

    def train(name: str, targets: list[str]) -> None:
        if name != "optimum" and time.time() > deadline:
            print(f"{name}: not started, the deadline has passed")
            return
        started = time.time()
        exits[name] = snakemake(configfiles, targets, stop_at, log)
        phases[name] = time.time() - started
        print(f"{name}: Snakemake exit {exits[name]} after {phases[name]:.0f} s")

    targets = []
    if args.mode in ("grid", "all"):
        targets += pack_targets(study, "grid")
        train("grid", targets)
    if args.mode in ("grid", "all") and exits.get("grid") == 0:
        train("optimum", [plan.OPTIMUM_FILE])  # the pair a later `a3 C1 C2` call takes
        pair = plan.pinned_or_chosen_optimum(study["part_a"])
        if args.mode == "all" and pair is not None:
            args.c1, args.c2 = pair
    if args.c1 is not None:
        a3 = pack_targets(study, "a3", c1=args.c1, c2=args.c2)
        targets += a3
        train("a3", a3)

    started = time.time()
    statuses = [s for s in status.study_status(Path("."), study)[0] if s.run.metrics in targets]
    summary = {
        "call": args.mode if args.c1 is None else f"{args.mode} ({args.c1}, {args.c2})",
        "a3_pair": a3_pair(study, args.mode),
        "started": stamp(args.started),
        "budget_seconds": args.budget,
        "deadline": stamp(deadline),
        "hard_stop": stamp(stop_at),
        "device": device(),
        "made": runs_made(targets),
        "snakemake_exits": exits,
        "runs": {s.run.name: {"state": s.state, "epochs": s.epochs_done, "best": s.best_accuracy} for s in statuses},
    }
    (CALL / "summary.json").write_text(json.dumps(summary | {"phases": phases}, indent=1) + "\n")
    packed = handback.pack(Path("."), args.out, weights_first=[a1_run(study)])
    phases["pack"] = time.time() - started
    phases["total"] = time.time() - args.started
    lines = [f"{key}: {summary[key]}" for key in ("call", "a3_pair", "started", "deadline", "hard_stop")]
    lines += [f"device: {json.dumps(summary['device'])}", f"made: {json.dumps(summary['made'])}"]
    lines += ["phases: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())]
    lines += ["", status.render(statuses, []), "", f"OUT ({args.out}):"]
    lines += [f"  {name}  {size / handback.MIB:.2f} MiB" for name, size in packed.files.items()]
    lines += [f"left out: {what}" for what in packed.left_out] or ["left out: nothing"]
    done = len(statuses) == len(targets) and all(s.state == "done" for s in statuses)
    if not done:
        lines.append(
            "not done: the runs' states stay on this machine; the same call at once, while it is warm, continues"
        )
    (args.out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    problems = handback.check(args.out)
    print(f"OUT breaks its limits: {'; '.join(problems)}" if problems else "OUT keeps its limits")
    sys.exit(0 if done and not problems else 1)


def a3_pair(study: dict, mode: str) -> str | None:
    """A3's pair as this call knows it, and whence."""
    pair = plan.pinned_or_chosen_optimum(study["part_a"])
    if pair is None:
        return None
    return f"({pair[0]}, {pair[1]}), " + ("pinned by this call" if mode == "a3" else "the grid's pick")


def a1_run(study: dict) -> str:
    """A1's run at Part A's first seed: its weights come back first, for its feature maps."""
    part_a = study["part_a"]
    seed = plan.part_seeds(study, "part_a")[0]
    return plan.part_a_run(part_a["c1"], part_a["c2"], pixel_layout=part_a["pixel_layout"], seed=seed)


if __name__ == "__main__":
    main()
