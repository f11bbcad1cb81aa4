"""A short probe of the scan engine on this machine's first device (a GPU, or the CPU with --tiny).

- ms per training step of the CNN (`--c1`, `--c2`, SGD, batch 128) in a
  `lax.scan` of `--steps` steps (Keras' own train step, as the engine runs
  it), with float32 and with TF32 matrix products and convolutions;
- whether running those steps again from the same start gives bitwise the
  same weights (with XLA_FLAGS=--xla_gpu_deterministic_ops=true, or not:
  run the probe once each way, the flags are read when JAX starts);
- whether a pack of two runs trains each as it trains alone (2 epochs).

    python bench/scan_probe.py [--steps 200] [--tiny] [--json probe.json]

Prints one line per finding and, with --json, writes them as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnstudy.train import runtime


def random_split(train: int, test: int):
    import numpy as np

    from nnstudy.train import fit

    rng = np.random.default_rng(0)
    x = rng.random((train + test, 32, 32, 3), dtype=np.float32)
    return fit.Split(x[:train], rng.integers(0, 10, train), x[train:], rng.integers(0, 10, test))


def builder(c1: int, c2: int, optimizer: str = "sgd", dropout: float = 0.0):
    from nnstudy.train import fit, models

    return lambda: fit.compile_model(models.cifar_cnn(c1, c2, dropout), models.optimizer(optimizer, 0.001, 0.1))


def step_time(c1: int, c2: int, steps: int, precision: str) -> dict:
    """ms per step and whether a second run of the same steps gives the same weights, bitwise."""
    import jax
    import keras
    import numpy as np
    from jax import lax

    from nnstudy.train import scan

    data = random_split(steps * 128, 1)
    keras.utils.set_random_seed(1)
    model = builder(c1, c2)()
    model._symbolic_build(data_batch=(data.x_train[:1], data.y_train[:1]))
    state = tuple([v.value for v in variables] for variables in scan._variables(model))
    rows = np.arange(steps * 128, dtype=np.int32).reshape(steps, 128)

    def train(state, x, y, rows):
        return lax.scan(lambda s, r: (model.train_step(s, (x[r], y[r]))[1], None), state, rows)[0]

    x, y = jax.device_put((data.x_train, data.y_train))
    with jax.default_matmul_precision(scan.MATMUL_PRECISIONS[precision]):
        started = time.perf_counter()
        program = jax.jit(train).lower(state, x, y, rows).compile()
        compile_seconds = time.perf_counter() - started
        weights, seconds = [], []
        for _ in range(3):
            started = time.perf_counter()
            trained = jax.block_until_ready(program(state, x, y, rows))
            seconds.append(time.perf_counter() - started)
            weights.append([np.asarray(w) for w in trained[0]])
    repeats = all(np.array_equal(a, b) for run in weights[1:] for a, b in zip(weights[0], run))
    return {"ms_per_step": 1000 * min(seconds[1:]) / steps, "compile_s": compile_seconds, "bitwise_repeat": repeats}


def packed_equals_alone(runs: list, train: int, test: int) -> bool:
    import numpy as np

    from nnstudy.train import scan

    data = random_split(train, test)

    def train_pack(specs, folder):
        members = [
            scan.Member(f"run{i}", builder(*spec[:4]), spec[4], folder / f"run{i}", {}, log=lambda m: None)
            for i, spec in specs
        ]
        return scan.train_pack(
            members, data, epochs=2, batch_size=128, chunk_epochs=2, manifest=folder / "pack.json", log=lambda m: None
        )

    with tempfile.TemporaryDirectory() as tmp:
        packed = train_pack(list(enumerate(runs)), Path(tmp) / "pack")
        alone = [train_pack([(i, spec)], Path(tmp) / f"alone{i}")[0] for i, spec in enumerate(runs)]
    keys = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
    for (model_a, history_a), (model_b, history_b) in zip(packed, alone):
        if [[e[k] for k in keys] for e in history_a] != [[e[k] for k in keys] for e in history_b]:
            return False
        if not all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model_a.weights, model_b.weights)):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--tiny", action="store_true", help="small models and data: a test on a CPU")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    deterministic = "--xla_gpu_deterministic_ops=true" in os.environ.get("XLA_FLAGS", "")
    runtime.prepare("jax", deterministic=deterministic)
    device = runtime.configure(threads=2, deterministic=deterministic, log=lambda message: None)
    from nnstudy.train import scan

    c1, c2, steps = (10, 20, min(args.steps, 8)) if args.tiny else (90, 100, args.steps)
    findings = {"device": device["name"], "xla_flags": os.environ.get("XLA_FLAGS", ""), "model": [c1, c2]}
    for precision in ("float32", "tf32"):
        found = findings[precision] = step_time(c1, c2, steps, precision) | {
            "runs_as": scan.matmul_precision(precision)
        }
        print(
            f"({c1}, {c2}) {precision} (runs as {found['runs_as']}): {found['ms_per_step']:.2f} ms/step, "
            f"compiled in {found['compile_s']:.1f} s, {steps} steps repeat bitwise: {found['bitwise_repeat']}",
            flush=True,
        )
        save(findings, args.json)
    runs = [[c1, c2, "sgd", 0.5, 1], [c1 // 2 or 1, c2 // 2 or 1, "adam", 0.0, 2]]
    findings["packed_equals_alone"] = packed_equals_alone(runs, 300 if args.tiny else 2000, 100 if args.tiny else 1100)
    print(f"a pack of {runs} trains each run as alone, bitwise: {findings['packed_equals_alone']}")
    save(findings, args.json)


def save(findings: dict, path: Path | None) -> None:
    """The findings so far (a probe cut short by its time limit keeps what it found)."""
    if path:
        path.write_text(json.dumps(findings, indent=1) + "\n")


if __name__ == "__main__":
    main()
