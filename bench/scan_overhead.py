"""Per-epoch overhead of the fit engine vs the scan engine, and the compile time of a 25-run pack.

Both engines as the workflow runs them (`fit.train`, `scan.train_pack`),
on Keras' JAX backend, with a model so small that an epoch is almost all
overhead (global average pooling → dense 10): the paper's 10,000 training
images in batches of 128 (78 full batches and a remainder of 16) and 2,000
test images (evaluated in batches of 1,024 and 976), random data.

- overhead: `--repeats` rounds, each one fit run and one scan run of
  `--epochs` epochs (scan: one chunk), alternating; an engine's figure for a
  round is the median of its epochs' seconds, fit's first epoch (which
  compiles) left out; the scan engine compiles before its chunk and logs it
  apart. Printed: the median and the best round, in ms per epoch.
- compile: the 25 grid pairs of Part A (SGD, CIFAR shapes) as one pack,
  trained for one epoch on `--pack-images` training images (and 1,100 test
  images, so two evaluation batches): the time to compile the chunk program
  (on a CPU its one epoch then takes minutes: JAX's CPU convolutions are slow).

    python bench/scan_overhead.py [--epochs 6] [--repeats 3] [--pack-images 300] [--no-pack]

Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nnstudy.train import runtime  # noqa: E402  (after the path above)

GRID = [(c1, c2) for c1 in (10, 30, 50, 70, 90) for c2 in (20, 40, 60, 80, 100)]


def random_split(train: int, test: int):
    import numpy as np

    from nnstudy.train import fit

    rng = np.random.default_rng(0)
    x = rng.random((train + test, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=train + test)
    return fit.Split(x[:train], y[:train], x[train:], y[train:])


def tiny_model():
    import keras

    from nnstudy.train import fit, models

    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)], name="tiny"
    )
    return fit.compile_model(model, models.optimizer("sgd", 0.001))


def fit_round(split, epochs: int, folder: Path) -> float:
    from nnstudy.train import fit

    _, history = fit.train(
        tiny_model, split, epochs=epochs, batch_size=128, seed=1, state_dir=folder, fingerprint={}, log=lambda m: None
    )
    return statistics.median(entry["seconds"] for entry in history[1:])


def scan_round(split, epochs: int, folder: Path) -> float:
    from nnstudy.train import scan

    member = scan.Member("tiny", tiny_model, 1, folder / "tiny", {}, log=lambda m: None)
    ((_, history),) = scan.train_pack(
        [member], split, epochs=epochs, batch_size=128, chunk_epochs=epochs, manifest=folder / "pack.json", log=print
    )
    return statistics.median(entry["seconds"] for entry in history)


def pack_compile(images: int, folder: Path) -> None:
    from nnstudy.train import fit, models, scan

    split = random_split(images, 1100)

    def builder(c1, c2):
        return lambda: fit.compile_model(models.cifar_cnn(c1, c2), models.optimizer("sgd", 0.001))

    members = [
        scan.Member(f"{c1}-{c2}", builder(c1, c2), 1, folder / f"{c1}-{c2}", {}, log=lambda m: None) for c1, c2 in GRID
    ]
    started = time.perf_counter()
    scan.train_pack(members, split, epochs=1, batch_size=128, chunk_epochs=1, manifest=folder / "pack.json", log=print)
    print(
        f"25-run pack, {images} training images: {time.perf_counter() - started:.1f} s in all (build, compile, train)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pack-images", type=int, default=300)
    parser.add_argument("--no-pack", action="store_true", help="leave out the 25-run pack's compile time")
    args = parser.parse_args()
    runtime.prepare("jax", deterministic=True)
    device = runtime.configure(threads=2, deterministic=True, log=print)
    import jax

    print(f"jax {jax.__version__} on {device['type']} {device['name']}; {args.epochs} epochs, {args.repeats} rounds")
    split = random_split(10_000, 2_000)
    times = {"fit": [], "scan": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats):
            times["fit"].append(fit_round(split, args.epochs, Path(tmp) / f"fit-{round_}"))
            times["scan"].append(scan_round(split, args.epochs, Path(tmp) / f"scan-{round_}"))
        print("engine   ms/epoch median   (best)   rounds:", " ".join(f"{r + 1}" for r in range(args.repeats)))
        for engine, seconds in times.items():
            rounds = " ".join(f"{1000 * s:.1f}" for s in seconds)
            print(f"{engine:6}   {1000 * statistics.median(seconds):15.1f}   ({1000 * min(seconds):.1f})   {rounds}")
        ratio = statistics.median(times["fit"]) / statistics.median(times["scan"])
        print(f"fit / scan, medians: {ratio:.1f}")
        if not args.no_pack:
            pack_compile(args.pack_images, Path(tmp) / "pack")


if __name__ == "__main__":
    main()
