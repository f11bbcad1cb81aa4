"""Seconds per training epoch at paper settings, on this machine.

Trains each model for a few epochs on the full course data (10,000 CIFAR-10
images / 5,600 documents, batch 128) and prints the median epoch time after
the first (which includes graph tracing).

    python bench/epoch_times.py [--epochs 3] [--threads 2] [--models cnn-50-60 ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from nnstudy import runtime

REPO = Path(__file__).resolve().parents[1]
CIFAR = REPO.parent / "shared/data/cifar10"
MODELS = ["cnn-50-60", "cnn-90-100", "char-cnn", "word-cnn", "char-gru", "word-gru"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cifar10-dir", type=Path, default=CIFAR)
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    args = parser.parse_args()

    runtime.prepare()
    from nnstudy import experiments, models, text, training

    device = runtime.configure(args.threads, deterministic=True, log=lambda m: None)
    print(f"device: {device['type']} {device['name']}, threads {args.threads}, {args.epochs} epochs each")
    cifar = None
    documents = {}
    results = {}
    for name in args.models:
        if name.startswith("cnn-"):
            c1, c2 = map(int, name.split("-")[1:])
            cifar = cifar or experiments.load_cifar(args.cifar10_dir / "data_batch_1", args.cifar10_dir / "test_batch_trim")
            split = cifar

            def build(c1=c1, c2=c2):
                return training.compile_model(models.cifar_cnn(c1, c2), models.optimizer("sgd", 0.001))
        else:
            level, arch = name.split("-")
            if not documents:
                train = text.read_csv(REPO / "data/text/train_medium.csv")
                test = text.read_csv(REPO / "data/text/test_medium.csv")
                mapping = text.label_mapping(train.labels)
                vocabulary = text.build_vocabulary(train.texts)
                labels = (text.encode_labels(train.labels, mapping, "train"), text.encode_labels(test.labels, mapping, "test"))
                documents["char"] = (text.char_ids(train.texts), text.char_ids(test.texts), 256)
                documents["word"] = (text.word_ids(train.texts, vocabulary), text.word_ids(test.texts, vocabulary), len(vocabulary))
            x_train, x_test, vocab_size = documents[level]
            split = training.Split(x_train, labels[0], x_test, labels[1])

            def build(level=level, arch=arch, vocab_size=vocab_size):
                model = models.text_classifier(level, arch, len(mapping), vocab_size)
                return training.compile_model(model, models.optimizer("adam", 0.01))

        with tempfile.TemporaryDirectory() as state:
            started = time.perf_counter()
            _, history = training.fit(build, split, epochs=args.epochs, batch_size=128, seed=1,
                                      state_dir=Path(state), fingerprint={}, log=lambda m: None)
        seconds = [entry["seconds"] for entry in history]
        steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
        results[name] = {"first_epoch_s": seconds[0], "epoch_s": steady, "wall_s": time.perf_counter() - started}
        print(f"{name:12s} first epoch {seconds[0]:7.2f} s   then {steady:7.2f} s/epoch")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
