"""Does today's code compute what an older checkout computed? Trains the same small runs with both, compares.

    python bench/identity_equivalence.py OLD_CHECKOUT [--cifar10-dir ../shared/data/cifar10]

For every kind of run the study trains (Part A's SGD CNN on images and on the course's layout where the old
checkout has it, each Part B model family and variant), both checkouts train it for 2 epochs on 256 / 128
examples through their own training job, on the backends of the published config (text RNNs on JAX), and the
histories are compared to the last bit. It prints the old checkout's code identities (the hash of seven modules
and the library versions that identified code before behavioural identities): when every kind computes the same,
they belong in nnstudy.train.identity.EQUIVALENT_LEGACY, so that the old checkout's saved states and finished
runs stay valid (docs/running.md, "Code identity").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A run of each kind, as run folders of the study (seed 1).
FOLDERS = [
    "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1",
    "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_layout-course_seed-1",
    *(
        f"results/part_b/runs/{level}-{model}_padding-{padding}_seed-1"
        for level in ("char", "word")
        for model, padding in (
            ("cnn_layers-1_dropout-0_clip-none", "unmasked"),
            ("cnn_layers-1_dropout-0.5_clip-none", "unmasked"),
            ("gru_layers-1_dropout-0_clip-none", "unmasked"),
            ("gru_layers-1_dropout-0.5_clip-none", "unmasked"),
            ("gru_layers-2_dropout-0_clip-none", "unmasked"),
            ("rnn_layers-1_dropout-0_clip-none", "unmasked"),
            ("lstm_layers-1_dropout-0_clip-none", "unmasked"),
            ("gru_layers-1_dropout-0_clip-2", "unmasked"),
            ("gru_layers-1_dropout-0_clip-global-norm-2", "unmasked"),
            ("gru_layers-1_dropout-0_clip-none", "masked"),
        )
        if level == "word" or padding == "unmasked"
    ),
]
CONFIG = ["preset=smoke", "training={threads: 1, backend: {text_rnn: jax}}"]

# Run in a process of its own per checkout and backend (Keras' backend is fixed at import): train FOLDERS with
# the checkout's own job function; print {folder: history} as JSON, and the checkout's code identity.


def worker_source() -> str:
    """The worker: it imports whichever layout the checkout on its path has (nnstudy.experiments before the
    layout by concept, nnstudy.train.job after)."""
    return r"""
import json, os, sys, importlib.util
from pathlib import Path
folders, overrides, cifar10, checkout = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
old = importlib.util.find_spec("nnstudy.experiments") is not None
if old:
    from nnstudy import experiments, identity, plan, settings
else:
    from nnstudy.study import plan, settings
    from nnstudy.train import identity, job
study = settings.load(Path(checkout), [], [*overrides, f"cifar10_dir={cifar10}"])
found = {}
for folder in folders:
    part = folder.split("/")[1]
    inputs = ({"train": f"{cifar10}/data_batch_1", "test": f"{cifar10}/test_batch_trim"} if part == "part_a" else
              {"ids": f"data/{plan.run_wildcards(folder)['level']}_ids.npz", "vocabulary": "data/vocabulary.json"})
    if old:
        settings_ = plan.run_settings(study, folder) | {"threads": 1, "checkpoint_seconds": 60, "tensorboard_dir": None}
        outputs = {"metrics": f"{folder}/metrics.json", "model": f"{folder}/model.keras",
                   "costs": f"{folder}/costs.png", "accuracies": f"{folder}/accuracies.png"}
        Path(folder).mkdir(parents=True, exist_ok=True)
        train = experiments.train_cifar if part == "part_a" else experiments.train_text
        train(settings=settings_, inputs=inputs, outputs=outputs, state_dir=f"resume/{folder}", log=lambda m: None)
    else:
        options = {"threads": 1, "checkpoint_seconds": 60, "tensorboard": False, "resume_dir": "resume", "gpu": None}
        job.train(runs=[vars(plan.run(study, folder))], inputs=inputs, options=options, log=lambda m: None)
    found[folder] = json.loads(Path(folder, "metrics.json").read_text())["history"]
identities = {backend: identity.code_identity(backend) for backend in ("tensorflow", "jax")} if old else {}
print(json.dumps({"histories": found, "identities": identities}))
"""


def train(checkout: Path, folders: list[str], data: Path, cifar10: str, backend: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="equivalence-") as workdir:
        (Path(workdir) / "data").symlink_to(data)
        env = os.environ | {"PYTHONPATH": str(checkout), "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, "-c", worker_source(), json.dumps(folders), json.dumps(CONFIG), cifar10, str(checkout)],
            cwd=workdir, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{checkout}: training failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="the older checkout")
    parser.add_argument("--cifar10-dir", default=str(REPO.parent / "shared/data/cifar10"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from nnstudy.data import text

    old_has_layout = (args.old / "nnstudy/train").is_dir() or "pixel_layout" in (args.old / "config.yaml").read_text()
    # Clip modes in folder names ("clip-global-norm-2") came with the clip counting optimizers.
    old_has_clip_modes = any("parse_clip" in path.read_text() for path in (args.old / "nnstudy").rglob("plan.py"))
    folders = [
        folder
        for folder in FOLDERS
        if ("layout-course" not in folder or old_has_layout) and ("global-norm" not in folder or old_has_clip_modes)
    ]
    with tempfile.TemporaryDirectory(prefix="equivalence-data-") as data:
        outputs = {level: f"{data}/{level}_ids.npz" for level in ("char", "word")}
        outputs["vocabulary"] = f"{data}/vocabulary.json"
        text.prepare(
            train_csv=REPO / "data/text/train_medium.csv", test_csv=REPO / "data/text/test_medium.csv", length=100,
            min_count=1, max_vocabulary=None, outputs=outputs, log=lambda m: None,
        )  # fmt: skip
        results = {}
        for backend in ("tensorflow", "jax"):
            chosen = [f for f in folders if ("-cnn_" in f or "part_a" in f) == (backend == "tensorflow")]
            for checkout in (args.old, REPO):
                found = train(checkout, chosen, Path(data), args.cifar10_dir, backend)
                results.setdefault(checkout, {"histories": {}, "identities": {}})
                results[checkout]["histories"] |= found["histories"]
                results[checkout]["identities"] |= found["identities"]
    old, new = results[args.old]["histories"], results[REPO]["histories"]
    same, added = [], set()
    for folder in folders:
        # A value one side records and the other does not (today's clip_rate) is no difference in what it computes.
        shared = [(o.keys() & n.keys()) - {"seconds"} for o, n in zip(old[folder], new[folder])]
        added |= {key for o, n in zip(old[folder], new[folder]) for key in o.keys() ^ n.keys()}
        equal = (
            bool(old[folder])
            and len(old[folder]) == len(new[folder])
            and all(all(o[key] == n[key] for key in keys) for o, n, keys in zip(old[folder], new[folder], shared))
        )
        same += [folder] if equal else []
        print(f"{'same     ' if equal else 'DIFFERENT'}  {Path(folder).name}")
    if added:
        print(f"recorded by one checkout only (not compared): {', '.join(sorted(added))}")
    print(f"{len(same)} of {len(folders)} kinds compute the same, to the last bit")
    print("old checkout's code identities:", json.dumps(results[args.old]["identities"]))


if __name__ == "__main__":
    main()
