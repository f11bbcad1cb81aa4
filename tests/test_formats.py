"""How numbers are written for people (nnstudy.analysis.formats) and what the
report says a study covers (nnstudy.report.scope)."""

from __future__ import annotations

import pandas as pd
import pytest
from generated_study import CONFIG

from nnstudy.analysis import formats, reference
from nnstudy.report import scope

NAN = float("nan")


def test_accuracies_four_places_differences_signed():
    assert formats.accuracy(0.87571) == "0.8757"
    assert formats.accuracy(0.87571, 0.01) == "0.8757 ± 0.0100"
    assert formats.accuracy(0.87571, NAN) == "0.8757"  # one seed: no sd
    assert formats.accuracy(None) == formats.accuracy(NAN) == "–"
    assert formats.signed(0.0115) == "+0.0115" and formats.signed(-0.12) == "-0.1200" and formats.signed(NAN) == "–"
    assert formats.interval(0.851, 0.90041) == "0.8510–0.9004" and formats.interval(NAN, NAN) == "–"


@pytest.mark.parametrize(
    ("value", "text"),
    [(2410.3545, "2410"), (139, "139"), (9.6414, "9.64"), (0.8558, "0.856"), (45.31, "45.3"), (0.0, "0"),
     (NAN, "–")],
)  # fmt: skip
def test_seconds_with_sensible_digits(value, text):
    assert formats.seconds(value) == text


def test_seconds_spread_and_sign():
    assert formats.seconds(2410.35, 35.2) == "2410 ± 35"
    assert formats.seconds(9.6414, 0.1234) == "9.64 ± 0.12"
    assert formats.seconds(0.00130, like=5.70) == "0.00"  # a spread written below its mean, to the mean's places
    assert formats.seconds(2271.35, sign=True) == "+2271" and formats.seconds(-2216.4, sign=True) == "-2216"


def test_durations_and_p_values():
    assert formats.duration(3.21) == "3.2 s"
    assert formats.duration(125) == "2 min 5 s"
    assert formats.duration(1234.5) == "20 min 34 s"
    assert formats.duration(2 * 3600 + 61) == "2 h 1 min"
    assert formats.duration(NAN) == "–"
    assert formats.p_value(0.01234) == "0.012" and formats.p_value(0.0004) == "<0.001" and formats.p_value(NAN) == "–"


def test_question_names_join_runs_of_numbers():
    assert scope.names(["a1", "a2", "a3", "a4"]) == "A1–A4"
    assert scope.names(["a2", "a3", "a4"]) == "A2–A4"
    assert scope.names(["a1", "a3"]) == "A1 and A3"
    assert scope.names(["b5", "b6", "masking"]) == "B1–B6 and the masking ablation"
    assert scope.names(["b6", "masking"]) == "B6 and the masking ablation"
    assert scope.names(["a4"]) == "A4" and scope.names([]) == ""


def study(**changes) -> dict:
    return CONFIG | {"preset": "quick"} | changes


def sentences(config, notes=None) -> list[str]:
    return [part["sentence"] for part in scope.coverage(config, notes)]


def test_coverage_of_the_whole_study():
    assert sentences(study()) == [
        "Part A: object recognition on CIFAR-10: A1–A4, all of its questions.",
        "Part B: text classification: B1–B6 and the masking ablation, all of its questions.",
    ]


def test_coverage_of_one_part_with_and_without_a_note():
    part_b = study(parts=["part_b"])
    assert sentences(part_b)[0] == (
        "Part A: object recognition on CIFAR-10 (A1–A4) is not in this study: the study's config leaves it out "
        "(parts: [part_b])."
    )
    noted = sentences(part_b, {"not run: part_a": "Part A at paper settings needs a GPU"})
    assert (
        noted[0]
        == "Part A: object recognition on CIFAR-10 (A1–A4) is not in this study: Part A at paper settings needs a GPU."
    )
    assert scope.coverage(part_b)[0]["run"] == "" and scope.coverage(part_b)[1]["run"]


def test_coverage_of_some_questions():
    found = sentences(study(questions=["a1", "b5", "b6", "masking"]), {"not run: part_a": "it needs a GPU."})
    assert found[0] == "Part A: object recognition on CIFAR-10: A1. A2–A4 are not in this study: it needs a GPU."
    found = sentences(study(questions=["a1", "a2", "a3", "a4", "b6"]))
    assert found[1] == (
        "Part B: text classification: B6. B1–B5 are not in this study: the study's config "
        "leaves them out (questions: [a1, a2, a3, a4, b6])."
    )
    assert sentences(study(questions=["a1", "a2", "a3", "b5", "b6", "masking"]))[0].endswith(
        ": A1–A3. A4 is not in this study: the study's config leaves it out (questions: [a1, a2, a3, b5, b6, masking])."
    )


def runs(part: str, accuracies, optimizer="sgd", train_size=2000) -> pd.DataFrame:
    return pd.DataFrame(
        {"part": part, "max_test_accuracy": accuracies, "optimizer": optimizer, "dropout": 0.0, "epochs": 10,
         "train_size": train_size, "test_size": 1000, "label": "word GRU", "mask_padding": False}
    )  # fmt: skip


def test_preset_sentences_say_which_runs_sit_at_chance_and_why():
    config = study(parts=["part_a"])
    config["part_a"] = config["part_a"] | {"epochs": 10, "batch_size": 128}
    frame = pd.concat([runs("A", [0.11, 0.17, 0.13]), runs("A", [0.45], optimizer="adam")], ignore_index=True)
    said = scope.preset(config, frame)
    assert said[0] == (
        "Part A: 10 epochs (the spec: 1000) on 2,000 training and 1,000 test images (the spec: 10,000 and 2,000), "
        "A2's grid of 2 × 2 pairs (the spec: 5 × 5)."
    )
    assert said[1] == (
        "3 of 4 Part A runs stay near chance (max test accuracy 0.11–0.17; chance is 0.10): every SGD run. Each made "
        "160 updates (10 epochs of 16 batches) at learning rate 0.001, where the spec's settings make 79,000."
    )
    assert said[2].startswith("These are not the spec's settings")
    # Shortened under any preset's name; the spec's settings only at the spec's length, data, grid and rates.
    assert scope.preset(config | {"preset": "paper"}, frame)[0] == said[0]
    spec = reference.SPEC["part_a"]
    full = frame.assign(epochs=spec["epochs"], train_size=spec["train"], test_size=spec["test"])
    paper = config | {"preset": "paper", "part_a": config["part_a"] | {"grid": spec["grid"]}}
    assert scope.preset(paper, full) == [
        "Part A: the spec's settings, 1000 epochs on 10,000 training and 2,000 test images."
    ]
    assert scope.at_spec(paper, full) and not scope.at_spec(config, frame)
    learnt = runs("A", [0.40, 0.45])
    assert len(scope.preset(config, learnt)) == 2  # nobody at chance: no such sentence
