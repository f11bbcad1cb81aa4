"""Check the outputs of the smoke study run inside the container.

Usage (inside the image, in the workflow copy):
    python tests/container/check_smoke.py RESULTS_DIR EXPECTED_DEVICE

Every JSON file under RESULTS_DIR must parse; there must be metrics.json files
for both parts; each must record EXPECTED_DEVICE (CPU/GPU) as its device and
the container's own Python/TensorFlow versions (so the jobs really ran in the
image, not in a host environment).
"""

import json
import platform
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, expected = Path(argv[1]), argv[2]
    import tensorflow

    problems: list[str] = []
    json_files = sorted(results.rglob("*.json"))
    for path in json_files:
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: not valid JSON ({exc})")
    metrics = [p for p in json_files if p.name == "metrics.json"]
    parts = {}
    for path in metrics:
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        parts[data.get("part")] = parts.get(data.get("part"), 0) + 1
        device = (data.get("device") or {}).get("type")
        if device != expected:
            problems.append(f"{path}: device {device!r}, expected {expected!r}")
        versions = data.get("versions") or {}
        if versions.get("python") != platform.python_version():
            problems.append(f"{path}: python {versions.get('python')!r}, container has {platform.python_version()!r}")
        if versions.get("tensorflow") != tensorflow.__version__:
            problems.append(
                f"{path}: tensorflow {versions.get('tensorflow')!r}, container has {tensorflow.__version__!r}"
            )
        summary = data.get("summary") or {}
        if not isinstance(summary.get("final_test_accuracy"), (int, float)):
            problems.append(f"{path}: no numeric summary.final_test_accuracy")
    if not metrics:
        problems.append(f"no metrics.json under {results}")
    for part in ("A", "B"):
        if not parts.get(part):
            problems.append(f"no metrics.json of part {part}")
    tables = sorted((results / "tables").glob("*.csv")) if (results / "tables").is_dir() else []
    if not tables:
        problems.append(f"no tables under {results / 'tables'}")
    print(
        f"checked {len(json_files)} JSON files, {len(metrics)} metrics.json "
        f"(part A: {parts.get('A', 0)}, part B: {parts.get('B', 0)}), {len(tables)} CSV tables; "
        f"python {platform.python_version()}, tensorflow {tensorflow.__version__}"
    )
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
