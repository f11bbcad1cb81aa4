"""The networks of the study, built as the spec describes them.

Every model ends in float32 logits, whatever the precision policy: the softmax is folded into the loss
(`from_logits=True`), which is numerically safer and trains the same, and a float16 softmax would overflow.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from nnstudy.data.text import CHAR_VOCAB_SIZE

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def cifar_cnn(c1: int = 50, c2: int = 60, dropout: float = 0.0) -> keras.Model:
    """Part A: C1 9×9 → S1 → C2 5×5 → S2 → F3 300 → F4 10; dropout acts on the inputs of F3 and F4."""
    return keras.Sequential(
        [
            keras.Input((32, 32, 3), name="image"),
            layers.Conv2D(c1, 9, activation="relu", name="C1"),
            layers.MaxPooling2D(2, strides=2, name="S1"),
            layers.Conv2D(c2, 5, activation="relu", name="C2"),
            layers.MaxPooling2D(2, strides=2, name="S2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(dropout, name="dropout_F3"),
            layers.Dense(300, name="F3"),
            layers.Dropout(dropout, name="dropout_F4"),
            layers.Dense(10, name="F4", dtype="float32"),
        ],
        name=f"cifar_cnn_{c1}_{c2}",
    )


def text_cnn(features, filters: int = 10, window: int = 20):
    """B1/B2: C1 window×width → S1 4×4/2 SAME → C2 window×1 → S2 4×4/2 SAME."""
    width = features.shape[-1]
    x = layers.Reshape((features.shape[1], width, 1), name="as_image")(features)
    x = layers.Conv2D(filters, (window, width), activation="relu", name="C1")(x)
    x = layers.MaxPooling2D(4, strides=2, padding="same", name="S1")(x)
    x = layers.Conv2D(filters, (window, 1), activation="relu", name="C2")(x)
    x = layers.MaxPooling2D(4, strides=2, padding="same", name="S2")(x)
    return layers.Flatten(name="flatten")(x)


_RECURRENT_CELLS = {"gru": layers.GRU, "rnn": layers.SimpleRNN, "lstm": layers.LSTM}


def text_rnn(features, cell: str = "gru", units: int = 20, num_layers: int = 1):
    """B3/B4 and B6: `num_layers` stacked recurrent layers; the last state."""
    x = features
    for index in range(num_layers):
        x = _RECURRENT_CELLS[cell](units, return_sequences=index < num_layers - 1, name=f"{cell}_{index + 1}")(x)
    return x


def text_classifier(
    level: str,
    architecture: str,
    num_classes: int,
    vocab_size: int = CHAR_VOCAB_SIZE,
    length: int = 100,
    num_layers: int = 1,
    dropout: float = 0.0,
    mask_padding: bool = False,
) -> keras.Model:
    """Part B: ids → one-hot characters (256 wide) or a 20-wide word embedding → CNN or recurrent body → logits.

    `mask_padding` makes the embedding mark the padding (id 0) so that a recurrent layer skips it: otherwise
    its last state comes after ~50 pad steps for a median paragraph of 47 words.  It applies to word-level
    recurrent models only (convolutions take no mask; the one-hot characters are rarely padded).
    """
    mask_padding = mask_padding and level == "word" and architecture in _RECURRENT_CELLS
    ids = keras.Input((length,), dtype="int32", name="ids")
    if level == "char":
        features = layers.CategoryEncoding(CHAR_VOCAB_SIZE, output_mode="one_hot", name="one_hot")(ids)
    elif level == "word":
        features = layers.Embedding(vocab_size, 20, mask_zero=mask_padding, name="embedding")(ids)
    else:
        raise ValueError(f"unknown text level {level!r}")
    if architecture == "cnn":
        x = text_cnn(features)
    elif architecture in _RECURRENT_CELLS:
        x = text_rnn(features, architecture, num_layers=num_layers)
    else:
        raise ValueError(f"unknown text architecture {architecture!r}")
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(ids, logits, name=f"{level}_{architecture}")


class ClipCounting:
    """Mixed into an optimizer that clips: `clipped_updates` counts the updates in which the clip acted (some
    gradient value beyond clipvalue, some variable's gradient norm beyond clipnorm, or the joint norm beyond
    global_clipnorm). A clip that never acts leaves the run as it would be unclipped; the count says which."""

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.clipped_updates = self.add_variable((), dtype="int", name="clipped_updates")

    def _clip_gradients(self, grads):
        present = [g for g in grads if g is not None]
        if self.clipnorm:
            excess = [ops.sqrt(ops.sum(ops.square(g))) > self.clipnorm for g in present]
        elif self.global_clipnorm:
            excess = [ops.sqrt(sum(ops.sum(ops.square(g)) for g in present)) > self.global_clipnorm]
        else:
            excess = [ops.max(ops.abs(g)) > self.clipvalue for g in present]
        self.clipped_updates.assign_add(ops.cast(ops.any(ops.stack(excess)), self.clipped_updates.dtype))
        return super()._clip_gradients(grads)


def _clip_counting(base: type) -> type:
    name = f"ClipCounting{base.__name__}"
    return keras.saving.register_keras_serializable("nnstudy", name)(type(name, (ClipCounting, base), {}))


_OPTIMIZER_CLASSES = {
    "sgd": keras.optimizers.SGD,
    "momentum": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
}
_CLIP_COUNTING = {base: _clip_counting(base) for base in set(_OPTIMIZER_CLASSES.values())}


def optimizer(
    name: str, learning_rate: float, momentum=0.0, clip_mode: str | None = None, clip_threshold: float | None = None
) -> keras.optimizers.Optimizer:
    """One of `OPTIMIZERS`, optionally clipping gradients at a threshold: clip_mode `value` clips each gradient
    element to ±threshold, `norm` each variable's gradient to that L2 norm, `global_norm` all jointly; a clipping
    optimizer counts the updates its clip acted on (ClipCounting)."""
    if name not in _OPTIMIZER_CLASSES:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    base, options = _OPTIMIZER_CLASSES[name], {"learning_rate": learning_rate}
    if base is keras.optimizers.SGD:
        options["momentum"] = momentum if name == "momentum" else 0.0
    if clip_mode is not None:
        keys = {"value": "clipvalue", "norm": "clipnorm", "global_norm": "global_clipnorm"}
        return _CLIP_COUNTING[base](**options, **{keys[clip_mode]: clip_threshold})
    return base(**options)
