"""One function per workflow job; the scripts in `scripts/` only call these.

Keras is imported inside the functions on purpose: `runtime.prepare()` has
to set the process environment before TensorFlow is first imported.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from nnstudy import faults, metrics
from nnstudy.data import cifar, text
from nnstudy.errors import StudyError
from nnstudy.study import plan
from nnstudy.train import identity, runtime


def _train_and_record(build, split, run: dict, settings: dict, outputs: dict, state_dir, log) -> None:
    """Fit (resumably), then write model, metrics.json and the two curve plots.

    `run`: part, label, seed and hyperparameters; the run's name is its folder's.
    """
    from nnstudy.train import fit

    run = {"run": Path(outputs["metrics"]).parent.name, **run, "code": code_record(settings["backend"])}
    started = time.perf_counter()
    device = runtime.configure(settings["threads"], settings["deterministic"], settings["precision"], log)
    fingerprint = {key: value for key, value in run["hyperparameters"].items() if key != "epochs"}
    callbacks = []
    if settings.get("tensorboard_dir"):
        import keras

        if importlib.util.find_spec("tensorboard") is None:
            raise StudyError("training.tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'")

        # Epoch scalars only: graphs and profiles would cost time on every run.
        callbacks.append(keras.callbacks.TensorBoard(settings["tensorboard_dir"], write_graph=False, profile_batch=0))
        log(f"TensorBoard scalars in {settings['tensorboard_dir']}")
    model, history = fit.train(
        build,
        split,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        seed=run["seed"],
        state_dir=state_dir,
        fingerprint=fingerprint,
        code=run["code"]["identity"],
        checkpoint_seconds=settings["checkpoint_seconds"],
        callbacks=callbacks,
        log=log,
    )
    record(model, history, run, outputs, started, device, log)


def code_record(backend: str) -> dict:
    """Which code trains a run (nnstudy.train.identity), as metrics.json records it."""
    return {"identity": identity.code_identity(backend), "commit": identity.git_commit(identity.PACKAGE)}


def record(model, history: list[dict], run: dict, outputs: dict, started: float, device: dict, log) -> None:
    """Write a trained run's model, metrics.json and the two curve plots; `started`: the job's perf_counter().

    `run`: run, part, label, seed, hyperparameters and code."""
    from nnstudy import plots

    faults.write_atomically(outputs["model"], model.save)  # a model file is whole or absent (a full disk)
    document = {
        **run,
        "history": history,
        "summary": metrics.summarize(history),
        "parameters": model.count_params(),
        "job_seconds": time.perf_counter() - started,
        "device": device,
        "versions": runtime.versions(),
    }
    metrics.write(outputs["metrics"], document)
    plots.learning_curves(history, "cost", f"{run['label']}: cost", outputs["costs"])
    plots.learning_curves(history, "accuracy", f"{run['label']}: accuracy", outputs["accuracies"])
    summary = document["summary"]
    log(
        f"done: max test accuracy {summary['max_test_accuracy']:.4f} "
        f"(epoch {summary['best_epoch']}), {summary['seconds_per_epoch']:.2f} s/epoch"
    )


def _engine(settings: dict) -> dict:
    """What trains a run besides its hyper-parameters; part of its resume fingerprint."""
    return {"backend": settings["backend"], "precision": settings["precision"]}


def load_cifar(train_file, test_file, train_limit=None, test_limit=None, layout=plan.DEFAULT_LAYOUT):
    from nnstudy.train.fit import Split

    x_train, y_train = cifar.load_batch(train_file)
    x_test, y_test = cifar.load_batch(test_file)
    return Split(
        cifar.to_float(cifar.arrange(x_train[:train_limit], layout)),
        y_train[:train_limit],
        cifar.to_float(cifar.arrange(x_test[:test_limit], layout)),
        y_test[:test_limit],
    )


def train_cifar(*, settings, inputs, outputs, state_dir, gpu=None, log=print):
    """Part A: one CNN on CIFAR-10; `settings`: nnstudy.study.plan.run_settings plus how the job runs."""
    runtime.prepare(settings["backend"], settings["threads"], settings["deterministic"], gpu, log)
    split = load_cifar(
        inputs["train"], inputs["test"], settings["train_limit"], settings["test_limit"], settings["pixel_layout"]
    )
    run, build = cifar_run(settings, split)
    log(f"training {run['label']} on {len(split.y_train)} images, testing on {len(split.y_test)}")
    _train_and_record(build, split, run, settings, outputs, state_dir, log)


def cifar_run(settings: dict, split) -> tuple[dict, object]:
    """A Part A run's record (part, label, seed, hyperparameters) and the function that builds its model."""
    from nnstudy.train import fit, models

    optimizer = settings["optimizer"]
    hyperparameters = {
        "c1": settings["c1"],
        "c2": settings["c2"],
        "optimizer": optimizer,
        "dropout": settings["dropout"],
        "learning_rate": settings["learning_rate"],
        "momentum": settings["momentum"] if optimizer == "momentum" else None,
        "batch_size": settings["batch_size"],
        "epochs": settings["epochs"],
        "train_size": len(split.y_train),
        "test_size": len(split.y_test),
        **_engine(settings),
    }
    if settings["pixel_layout"] != plan.DEFAULT_LAYOUT:  # recorded where not the default, as in the run's name
        hyperparameters["pixel_layout"] = settings["pixel_layout"]

    def build():
        opt = models.optimizer(optimizer, settings["learning_rate"], settings["momentum"])
        return fit.compile_model(models.cifar_cnn(settings["c1"], settings["c2"], settings["dropout"]), opt)

    label = plan.run_label(settings)
    return {"part": "A", "label": label, "seed": settings["seed"], "hyperparameters": hyperparameters}, build


def feature_maps(
    *, model_file, test_file, meta_file, index, output, backend="tensorflow", layout=plan.DEFAULT_LAYOUT, log=print
):
    """A1b: test image `index` (1-based) and its C1, S1, C2, S2 maps, on the A1 model's backend; the image as
    the network saw it in the run's pixel layout (the course's shows scrambled planes, and says so)."""
    runtime.prepare(backend)
    import keras

    from nnstudy import plots

    model = keras.models.load_model(model_file)
    images, labels = cifar.load_batch(test_file)
    image = cifar.to_float(cifar.arrange(images[index - 1 : index], layout))
    names = ["C1", "S1", "C2", "S2"]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    maps = {name: layer[0] for name, layer in zip(names, probe.predict(image, verbose=0))}
    label = cifar.load_label_names(meta_file)[labels[index - 1]]
    seen = "" if layout == plan.DEFAULT_LAYOUT else f" ({layout} pixel layout: the input as the network saw it)"
    plots.feature_maps(image[0], maps, f"test image {index}: {label}{seen}", output)
    log(f"wrote {output}")


def prepare_text(*, train_csv, test_csv, length, min_count, max_vocabulary, outputs, log=print):
    """Read both CSVs once; save char ids, word ids, labels and the vocabulary."""
    train = text.read_csv(train_csv)
    test = text.read_csv(test_csv)
    mapping = text.label_mapping(train.labels)
    vocabulary = text.build_vocabulary(train.texts, min_count, max_vocabulary)
    for level, encode in (
        ("char", lambda texts: text.char_ids(texts, length)),
        ("word", lambda texts: text.word_ids(texts, vocabulary, length)),
    ):
        np.savez_compressed(
            outputs[level],
            x_train=encode(train.texts),
            y_train=text.encode_labels(train.labels, mapping, str(train_csv)),
            x_test=encode(test.texts),
            y_test=text.encode_labels(test.labels, mapping, str(test_csv)),
        )
    known = set(vocabulary)
    unknown = sum(word not in known for t in test.texts for word in text.tokenize(t))
    info = {
        "labels": {str(label): index for label, index in mapping.items()},
        "num_classes": len(mapping),
        "length": length,
        "char_vocabulary_size": text.CHAR_VOCAB_SIZE,
        "vocabulary": vocabulary,
        "train_documents": len(train.labels),
        "test_documents": len(test.labels),
        "test_unknown_words": unknown,
    }
    Path(outputs["vocabulary"]).write_text(json.dumps(info, indent=1) + "\n")
    log(
        f"{len(train.labels)} training and {len(test.labels)} test documents, "
        f"{len(mapping)} classes, {len(vocabulary)} words in the vocabulary"
    )


def train_text(*, settings, inputs, outputs, state_dir, gpu=None, log=print):
    """Part B: one text classifier; `settings`: nnstudy.study.plan.run_settings plus how the job runs."""
    runtime.prepare(settings["backend"], settings["threads"], settings["deterministic"], gpu, log)
    from nnstudy.train import fit, models

    arrays = np.load(inputs["ids"])
    info = json.loads(Path(inputs["vocabulary"]).read_text())
    train_limit, test_limit = settings["train_limit"], settings["test_limit"]
    split = fit.Split(
        arrays["x_train"][:train_limit],
        arrays["y_train"][:train_limit],
        arrays["x_test"][:test_limit],
        arrays["y_test"][:test_limit],
    )
    level, architecture, clip = settings["level"], settings["architecture"], settings["clip"]
    vocab_size = len(info["vocabulary"]) if level == "word" else info["char_vocabulary_size"]
    clip_mode = settings["clip_mode"] if clip else None
    if settings["mask_padding"] and (level != "word" or architecture == "cnn"):
        raise StudyError(f"padding can be masked for word-level recurrent models only, not {level} {architecture}")
    hyperparameters = {
        "level": level,
        "architecture": architecture,
        "layers": settings["num_layers"],
        "dropout": settings["dropout"],
        "clip_mode": clip_mode,
        "clip_threshold": clip,
        "mask_padding": settings["mask_padding"],
        "optimizer": settings["optimizer"],
        "learning_rate": settings["learning_rate"],
        "batch_size": settings["batch_size"],
        "epochs": settings["epochs"],
        "vocabulary_size": vocab_size,
        "length": info["length"],
        "train_size": len(split.y_train),
        "test_size": len(split.y_test),
        **_engine(settings),
    }
    label = plan.run_label(settings)
    log(f"training {label} on {len(split.y_train)} documents, testing on {len(split.y_test)}")

    def build():
        model = models.text_classifier(
            level,
            architecture,
            info["num_classes"],
            vocab_size,
            info["length"],
            settings["num_layers"],
            settings["dropout"],
            settings["mask_padding"],
        )
        opt = models.optimizer(settings["optimizer"], settings["learning_rate"], 0.0, clip_mode, clip)
        return fit.compile_model(model, opt)

    run = {"part": "B", "label": label, "seed": settings["seed"], "hyperparameters": hyperparameters}
    _train_and_record(build, split, run, settings, outputs, state_dir, log)
