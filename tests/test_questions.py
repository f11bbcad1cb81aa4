"""The registry of the study's questions (nnstudy/study/questions.py) and the run
folders nnstudy/study/plan.py makes of it."""

from __future__ import annotations

from generated_study import CONFIG

from nnstudy.study import plan, questions

STUDY = CONFIG | {"seeds": [1]}


def names(runs) -> set[str]:
    return {run.rsplit("/", 1)[1] for run in runs}


def test_b5_b6_and_masking_runs():
    b5 = names(plan.question_runs("b5", STUDY))
    assert len(b5) == 8
    assert "word-gru_layers-1_dropout-0.5_clip-none_padding-unmasked_seed-1" in b5
    b6 = names(plan.question_runs("b6", STUDY))
    assert b6 == {
        f"{level}-{model}_padding-unmasked_seed-1"
        for level in ("char", "word")
        for model in (
            "gru_layers-1_dropout-0_clip-none",
            "rnn_layers-1_dropout-0_clip-none",
            "lstm_layers-1_dropout-0_clip-none",
            "gru_layers-2_dropout-0_clip-none",
            "gru_layers-1_dropout-0_clip-2",
        )
    }
    masking = names(plan.question_runs("masking", STUDY))
    assert len(masking) == 10 and {run for run in b6 if run.startswith("word")} <= masking
    # The study's padding setting moves B5 / B6's word RNNs, not the char ones or the CNNs.
    masked = STUDY | {"part_b": STUDY["part_b"] | {"mask_padding": True}}
    b5_masked = names(plan.question_runs("b5", masked))
    assert "word-gru_layers-1_dropout-0_clip-none_padding-masked_seed-1" in b5_masked
    assert "word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1" in b5_masked


def test_part_a_runs_wait_for_the_optimum_and_follow_the_optimizers_setting():
    assert plan.question_runs("a4", STUDY) == [plan.part_a_run(50, 60, seed=1)]
    a4 = plan.question_runs("a4", STUDY, optimum=(10, 60))
    assert len(a4) == 6 and plan.part_a_run(10, 60, "adam", seed=1) in a4
    assert plan.part_a_run(10, 60, "sgd", 0.5, seed=1) in a4
    only_adam = STUDY | {"part_a": STUDY["part_a"] | {"optimizers": ["adam"]}}
    names_a3 = [e.names["experiment"] for e in questions.entries("a3", only_adam["part_a"])]
    assert names_a3 == ["A3c Adam", "A3d SGD + dropout"]
    assert plan.needs_optimum("a4", STUDY["part_a"]) and not plan.needs_optimum("a2", STUDY["part_a"])
    assert len(plan.question_runs("a2", STUDY)) == 4


def test_a_b6_variant_is_one_entry():
    """B6, the masking ablation and the accuracy-against-time families all take B6_VARIANTS."""
    for key in ("b6", "masking", "b_accuracy_time"):
        models = questions.QUESTIONS[key].models
        assert models[-len(questions.B6_VARIANTS) :] == questions.B6_VARIANTS


def test_entries_name_and_label_every_run():
    b5 = questions.entries("b5", CONFIG["part_b"])
    assert [e.label for e in b5[-2:]] == ["Word RNN", "Word RNN + dropout"]
    assert b5[-1].names == {"model": "Word RNN", "dropout_label": "with dropout"}
    assert b5[-1].settings == {"level": "word", "architecture": "gru", "dropout": 0.5}
    masking = questions.entries("masking", CONFIG["part_b"])
    assert masking[-1].label == "gradient clipping, masked" and masking[-1].settings["clip_threshold"] == 2.0
    assert questions.COMPARED == ["a4", "b5", "b6"]
    assert questions.reference_files("b6") == ["data/reference/part_b.csv", "data/reference/b6.csv"]


def test_study_runs_and_pending_a3(tmp_path):
    runs, pending = plan.study_runs(STUDY, workdir=tmp_path)  # no optimum.json there
    assert len(runs) == 4 + 21  # the grid (A1's pair in it) and Part B
    assert pending == ["A3 momentum", "A3 rmsprop", "A3 adam", "A3 sgd + dropout"]
    pinned, pending = plan.study_runs(STUDY | {"part_a": STUDY["part_a"] | {"optimum": [10, 20]}}, workdir=tmp_path)
    assert len(pinned) == 4 + 4 + 21 and not pending
