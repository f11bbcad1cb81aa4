"""A1b: a test image through the A1 network, and its C1, S1, C2 and S2 feature maps."""

from __future__ import annotations

from pathlib import Path

from nnstudy.data import cifar
from nnstudy.errors import StudyError
from nnstudy.study import plan
from nnstudy.train import runtime


def feature_maps(
    *, model_file, test_file, meta_file, index, output, backend="tensorflow", layout=plan.DEFAULT_LAYOUT, log=print
):
    """A1b: test image `index` (1-based) and its C1, S1, C2, S2 maps, on the A1 model's backend; the image as
    the network saw it in the run's pixel layout (the course's shows scrambled planes, and says so)."""
    if not Path(model_file).is_file():
        raise StudyError(
            f"{model_file} is missing (a run imported without its weights?): the feature maps need the A1 network; "
            f"train it again with --forcerun {Path(model_file).with_name('metrics.json')}"
        )
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
