"""The summary of a bench/gpu_part_a.sh run: phases, flags, device, probe, each run's progress.

Reads the workflow folder it runs in (results/part_a/runs/*/metrics.json for
finished runs, resume/**/history.json for the others) and writes
OUT/summary.json and OUT/summary.txt. With --models, saves the finished runs'
weights without optimizer slots there (A1, A3 and the grid's corners first),
at most --models-mib in all; the runs left out are named in the summary.

    python bench/gpu_part_a_summary.py --out OUT [--phases FILE] [--probe JSON ...] [--config YAML]
                                       [--models FOLDER] [--models-mib 45]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
from pathlib import Path

FIRST = ("_sgd_dropout-0.5", "_momentum", "_rmsprop", "_adam", "c1-50_c2-60_", "c1-90_c2-100_", "c1-10_c2-20_")


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def progress(workdir: Path) -> dict:
    """{run folder: {epochs, state, last and best test accuracy, s/epoch}}, finished runs and resumable ones."""
    runs = {}
    for state in sorted(workdir.glob("resume/results/part_a/runs/*/history.json")):
        history = (_json(state) or {}).get("history") or []
        if history:
            runs[state.parent.name] = {"state": "resumable", "history": history}
    for metrics in sorted(workdir.glob("results/part_a/runs/*/metrics.json")):
        document = _json(metrics)
        if document:
            runs[metrics.parent.name] = {"state": "done", "history": document["history"]}
    table = {}
    for name, run in runs.items():
        history = run["history"]
        table[name] = {
            "state": run["state"],
            "epochs": len(history),
            "last_test_accuracy": history[-1]["test_accuracy"],
            "best_test_accuracy": max(entry["test_accuracy"] for entry in history),
            "seconds_per_epoch": sum(entry["seconds"] for entry in history) / len(history),
        }
    return table


def ship_models(workdir: Path, folder: Path, budget_mib: float) -> list[str]:
    """Weights of the finished runs into `folder`, most wanted first, within the budget; the runs left out."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(
        workdir.glob("results/part_a/runs/*/model.keras"),
        key=lambda p: next((i for i, mark in enumerate(FIRST) if mark in p.parent.name), len(FIRST)),
    )
    used, left_out = 0.0, []
    for path in paths:
        target = folder / f"{path.parent.name}.weights.h5"
        keras.models.load_model(path, compile=False).save_weights(target)
        size = target.stat().st_size / 2**20
        if used + size > budget_mib:
            target.unlink()
            left_out.append(path.parent.name)
        else:
            used += size
    return left_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--phases", type=Path)
    parser.add_argument("--probe", type=Path, nargs="*", default=[])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--models-mib", type=float, default=45.0)
    args = parser.parse_args()
    workdir = Path.cwd()
    gpus = ""
    if shutil.which("nvidia-smi"):
        gpus = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout.strip()
    phases = []
    if args.phases and args.phases.is_file():
        phases = [line.split("\t") for line in args.phases.read_text().splitlines() if line]
    summary = {
        "device": gpus or platform.processor() or platform.machine(),
        "phases": [{"phase": p, "exit": code, "seconds": int(s)} for p, code, s in phases],
        "config": args.config.read_text() if args.config and args.config.is_file() else None,
        "probe": {str(path): _json(path) for path in args.probe},
        "runs": progress(workdir),
    }
    if args.models:
        summary["models_left_out"] = ship_models(workdir, args.models, args.models_mib)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [f"device: {summary['device']}", "phases:"]
    lines += [f"  {p['phase']:8} exit {p['exit']:>5}  {p['seconds']:5d} s" for p in summary["phases"]]
    lines += ["config:", *(f"  {line}" for line in (summary["config"] or "").splitlines())]
    for path, probe in summary["probe"].items():
        lines.append(f"probe {path}: {json.dumps(probe)}")
    lines.append(f"{'run':45} {'state':10} {'epochs':>6} {'last acc':>9} {'best acc':>9} {'s/epoch':>8}")
    for name, run in summary["runs"].items():
        lines.append(
            f"{name:45} {run['state']:10} {run['epochs']:6d} {run['last_test_accuracy']:9.4f} "
            f"{run['best_test_accuracy']:9.4f} {run['seconds_per_epoch']:8.3f}"
        )
    if summary.get("models_left_out"):
        lines.append(f"weights left out (over {args.models_mib} MiB): {', '.join(summary['models_left_out'])}")
    (args.out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
