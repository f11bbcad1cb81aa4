import numpy as np
import pytest

from nnstudy.train import fit, models


def output_shapes(model):
    return {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}


def test_cifar_cnn_matches_the_spec():
    model = models.cifar_cnn(50, 60)
    shapes = output_shapes(model)
    assert shapes["C1"] == (24, 24, 50)
    assert shapes["S1"] == (12, 12, 50)
    assert shapes["C2"] == (8, 8, 60)
    assert shapes["S2"] == (4, 4, 60)
    assert shapes["F3"] == (300,)
    assert shapes["F4"] == (10,)
    assert model.count_params() == 378_570


@pytest.mark.parametrize("c1, c2", [(10, 20), (90, 100), (30, 80)])
def test_cifar_cnn_parameters_scale_with_channels(c1, c2):
    expected = (9 * 9 * 3 * c1 + c1) + (5 * 5 * c1 * c2 + c2) + (16 * c2 * 300 + 300) + (300 * 10 + 10)
    assert models.cifar_cnn(c1, c2).count_params() == expected


def test_dropout_adds_no_parameters():
    assert models.cifar_cnn(50, 60, dropout=0.5).count_params() == 378_570


# The 16 configurations of Part B: B1–B4, their dropout variants, and B6.
TEXT_CONFIGURATIONS = [
    dict(level=level, architecture=arch, dropout=dropout)
    for level in ("char", "word")
    for arch in ("cnn", "gru")
    for dropout in (0.0, 0.5)
] + [
    dict(level=level, **variant)
    for level in ("char", "word")
    for variant in (
        dict(architecture="rnn"),
        dict(architecture="lstm"),
        dict(architecture="gru", num_layers=2),
        dict(architecture="gru", clip=2.0),
    )
]


@pytest.mark.parametrize("config", TEXT_CONFIGURATIONS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_text_models_build_and_train_a_step(config):
    config = dict(config)
    clip = config.pop("clip", None)
    vocab_size = 256 if config["level"] == "char" else 50
    model = models.text_classifier(num_classes=14, vocab_size=vocab_size, length=100, **config)
    shapes = output_shapes(model)
    if config["architecture"] == "cnn":
        assert shapes["C1"] == (81, 1, 10)
        assert shapes["S1"] == (41, 1, 10)
        assert shapes["C2"] == (22, 1, 10)
        assert shapes["S2"] == (11, 1, 10)
    else:
        last = f"{config['architecture']}_{config.get('num_layers', 1)}"
        assert shapes[last] == (20,)
    if config["level"] == "char":
        assert shapes["one_hot"] == (100, 256)
    else:
        assert shapes["embedding"] == (100, 20)
    assert shapes["logits"] == (14,)
    optimizer = models.optimizer("adam", 0.01, clip_mode="value" if clip else None, clip_threshold=clip)
    fit.compile_model(model, optimizer)
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab_size, size=(8, 100)).astype("int32")
    y = rng.integers(0, 14, size=8)
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    "mode, key", [("value", "clipvalue"), ("norm", "clipnorm"), ("global_norm", "global_clipnorm")]
)
def test_clipping_modes(mode, key):
    optimizer = models.optimizer("adam", 0.01, clip_mode=mode, clip_threshold=2.0)
    assert getattr(optimizer, key) == 2.0


def test_optimizers():
    assert models.optimizer("momentum", 0.001, momentum=0.1).momentum == 0.1
    assert type(models.optimizer("rmsprop", 0.001)).__name__ == "RMSprop"
    with pytest.raises(ValueError, match="unknown optimizer"):
        models.optimizer("nadam", 0.001)


def test_masked_word_rnn_ignores_padding():
    """With masking, 100 ids of which 97 are padding read like the 3 words alone."""
    padded = models.text_classifier("word", "gru", 14, vocab_size=50, length=100, mask_padding=True)
    short = models.text_classifier("word", "gru", 14, vocab_size=50, length=3, mask_padding=True)
    short.set_weights(padded.get_weights())
    words = np.array([[5, 6, 7]], dtype="int32")
    np.testing.assert_allclose(
        padded.predict(np.pad(words, ((0, 0), (0, 97))), verbose=0), short.predict(words, verbose=0), rtol=1e-5
    )
    unmasked = models.text_classifier("word", "gru", 14, vocab_size=50, length=100)
    unmasked.set_weights(padded.get_weights())
    assert not np.allclose(
        unmasked.predict(np.pad(words, ((0, 0), (0, 97))), verbose=0), short.predict(words, verbose=0)
    )


def test_masking_leaves_cnns_and_characters_alone():
    for level, architecture in (("word", "cnn"), ("char", "gru")):
        model = models.text_classifier(level, architecture, 14, vocab_size=50, mask_padding=True)
        assert all(not getattr(layer, "mask_zero", False) for layer in model.layers)
