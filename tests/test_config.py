"""Bad config values stop Snakemake before any job, with one line naming the key."""

import re

import pandas as pd
import pytest
import yaml
from conftest import CIFAR_DIR, REPO, copy_workflow, nnstudy_status, snakemake, status_rows

from nnstudy.errors import StudyError
from nnstudy.report import scope
from nnstudy.study import plan, settings

SCHEMA = REPO / "schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("config") / "workflow")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"part_a": {"c1": -5}}, "config error: part_a.c1: -5 is less than the minimum of 1"),
        ({"part_a": {"optimizers": ["sgd", "nadam"]}}, "config error: part_a.optimizers.1: 'nadam' is not one of"),
        ({"part_b": {"clip_mode": "sideways"}}, "config error: part_b.clip_mode: 'sideways' is not one of"),
        (
            {"part_a": {"dropout": 1.5}},
            "config error: part_a.dropout: 1.5 is greater than or equal to the maximum of 1",
        ),
        ({"preset": "fast"}, "config error: preset: 'fast' is not one of ['paper', 'quick', 'smoke']"),
        ({"seeds": []}, "config error: seeds: [] should be non-empty"),
        ({"part_a": {"grid": {"c1": [10, 10]}}}, "config error: part_a.grid.c1: [10, 10] has non-unique elements"),
        (
            {"part_a": {"epoch": 3}},
            "config error: part_a: Additional properties are not allowed ('epoch' was unexpected)",
        ),
        ({"cifar10_dir": "/nonexistent"}, "config error: cifar10_dir: /nonexistent/data_batch_1 does not exist"),
        (
            {"training": {"deadline": "soon"}},
            "config error: training.deadline: 'soon' is neither minutes nor an ISO 8601 time",
        ),
        ({"text": {"train_csv": "missing.csv"}}, "config error: text.train_csv: missing.csv does not exist"),
        (
            {"training": {"backend": "torch"}},
            "config error: training.backend: 'torch' is not one of ['tensorflow', 'jax']",
        ),
        (
            {"training": {"backend": {"text_rnn": "pytorch"}}},
            "config error: training.backend.text_rnn: 'pytorch' is not one of",
        ),
        (
            {"training": {"backend": {"rnn": "jax"}}},
            "config error: training.backend: Additional properties are not allowed ('rnn' was unexpected)",
        ),
        (
            {"training": {"precision": "bf16"}},
            "config error: training.precision: 'bf16' is not one of ['float32', 'mixed_bfloat16', 'mixed_float16']",
        ),
        (
            {"training": {"precision": {"cifar_cnn": "half"}}},
            "config error: training.precision.cifar_cnn: 'half' is not one of",
        ),
        (
            {"training": {"checkpoint_seconds": -1}},
            "config error: training.checkpoint_seconds: -1 is less than the minimum of 0",
        ),
        ({"part_a": {"epochs": 10.0}}, "config error: part_a.epochs: 10.0 is not of type 'integer'"),
        (
            {"part_a": {"learning_rate": {"adagrad": 0.1}}},
            "config error: part_a.learning_rate: Additional properties are not allowed ('adagrad' was unexpected)",
        ),
        ({"part_b": {"learning_rate": float("nan")}}, "config error: part_b.learning_rate: nan is not a finite number"),
        (
            {"part_b": {"clip_threshold": float("inf")}},
            "config error: part_b.clip_threshold: inf is not a finite number",
        ),
        # A typo in a preset that is not chosen today is found today.
        (
            {"presets": {"quick": {"part_a": {"epoch": 3}}}},
            "config error: presets.quick.part_a: Additional properties are not allowed ('epoch' was unexpected)",
        ),
        (
            {"presets": {"smoke": {"part_a": {"epochs": 0}}}, "preset": "smoke"},
            "config error: presets.smoke.part_a.epochs: 0 is less than the minimum of 1",
        ),
        (
            {"training": {"resume_dir": "."}},
            "config error: training.resume_dir: '.' overlaps the workflow's results/ folder",
        ),
        (
            {"training": {"resume_dir": "results/resume"}},
            "config error: training.resume_dir: 'results/resume' overlaps the workflow's results/ folder",
        ),
    ],
)
def test_invalid_config_is_one_clear_line(workflow, tmp_path, override, message):
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump(override))
    result = snakemake(workflow, "-n", "--configfile", str(extra), check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("config error")]
    assert errors == [message] or (len(errors) == 1 and errors[0].startswith(message))
    assert "Traceback" not in result.stderr


def test_valid_config_plans_the_whole_study(workflow):
    result = snakemake(workflow, "-n", "--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}")
    assert re.search(r"^train_cifar\s+26$", result.stdout, re.M)  # A1 and the grid, and A1 on the course's layout
    assert re.search(r"^train_text\s+23$", result.stdout, re.M)  # B5, B6, masking, GRUs clipped by global norm


def test_command_line_values_are_typed_like_the_config(workflow):
    """--config hands list items over as text and an empty value as None."""
    result = snakemake(workflow, "-n", "--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}", "seeds=[1, 2]")
    assert re.search(r"^train_cifar\s+52$", result.stdout, re.M)
    result = snakemake(workflow, "-n", "--config", "preset=smoke", "cifar10_dir=")
    assert re.search(r"^download_cifar10\s+1$", result.stdout, re.M)
    result = snakemake(
        workflow, "-n", "--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}", "part_a={optimum: [10, 20]}"
    )
    assert "config error" not in result.stderr and re.search(r"^select_optimum\s+1$", result.stdout, re.M)


def test_a_preset_replacing_a_users_value_says_so(workflow, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text(yaml.safe_dump({"preset": "smoke", "part_a": {"epochs": 5}}))
    result = snakemake(workflow, "-n", "--configfile", str(extra), "--config", f"cifar10_dir={CIFAR_DIR}")
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: preset")]
    assert notes == ["note: preset smoke sets part_a.epochs: 2 over your part_a.epochs: 5 (presets win)"]
    plain = snakemake(workflow, "-n", "--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}")
    assert "note: preset" not in plain.stderr


def test_part_b_study_needs_no_cifar(workflow):
    """parts: [part_b] plans the text study and its report; CIFAR-10 is neither read nor downloaded."""
    result = snakemake(workflow, "-n", "--config", "preset=smoke", "parts=[part_b]", "cifar10_dir=/nonexistent")
    assert re.search(r"^train_text\s+23$", result.stdout, re.M)
    assert re.search(r"^html_report\s+1$", result.stdout, re.M)
    assert not re.search(r"^(train_cifar|download_cifar10|select_optimum|feature_maps)\s", result.stdout, re.M)
    assert "padding-masked" in result.stdout


def test_presets_change_scale_and_the_quick_one_says_what_else():
    """Presets shorten the study; the quick one also trains Part A in smaller batches, SGD at a larger rate (so
    that it learns in 500 updates) on a smaller grid, and its report's first box says so beside the spec's values."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    paper = settings.resolve(dict(config), SCHEMA)
    quick = settings.resolve(dict(config, preset="quick"), SCHEMA)
    assert paper["part_a"]["epochs"] == 1000 and paper["part_b"]["epochs"] == 250
    assert quick["part_a"]["epochs"] < 1000 and quick["part_a"]["train_limit"]
    for key in ("batch_size", "learning_rate", "dropout"):
        assert quick["part_b"][key] == paper["part_b"][key]
    assert quick["part_a"]["dropout"] == paper["part_a"]["dropout"]
    rates = {name: plan.learning_rate(quick["part_a"], name) for name in ("sgd", "momentum", "rmsprop", "adam")}
    assert rates == {"sgd": 0.02, "momentum": 0.02, "rmsprop": 0.001, "adam": 0.001}
    assert {plan.learning_rate(paper["part_a"], name) for name in rates} == {0.001}
    runs = pd.DataFrame({"part": ["A", "B"], "epochs": [8, 10], "train_size": [2000, 2800], "test_size": [500, 700],
                         "max_test_accuracy": [0.3, 0.5], "optimizer": ["sgd", "adam"], "dropout": [0.0, 0.0],
                         "label": ["", "word CNN"], "mask_padding": [False, False]})  # fmt: skip
    said = scope.preset(quick, runs)
    assert said[0] == (
        "Part A: 8 epochs (the spec: 1000) on 2,000 training and 500 test images (the spec: 10,000 and 2,000), "
        "A2's grid of 3 × 3 pairs (the spec: 5 × 5), batches of 32 (the spec: 128), learning rate 0.02 (SGD, "
        "SGD + momentum), 0.001 (RMSProp, Adam) (the spec: 0.001)."
    )
    assert said[1] == (
        "Part B: 10 epochs (the spec: 250) on 2,800 training and 700 test documents (the spec: 5,600 and 700)."
    )


def test_a_learning_rate_per_optimizer_reaches_each_run():
    """part_a.learning_rate per optimizer: each A3 run is planned with its own, an optimizer left out with 0.001."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["part_a"]["learning_rate"] = {"sgd": 0.05, "adam": 0.0005}
    study = settings.resolve(config, SCHEMA)
    runs = {name: plan.run(study, f"results/part_a/runs/c1-90_c2-100_{name}_dropout-0_seed-1")
            for name in ("sgd", "momentum", "rmsprop", "adam")}  # fmt: skip
    rates = {name: run.settings["learning_rate"] for name, run in runs.items()}
    assert rates == {"sgd": 0.05, "momentum": 0.001, "rmsprop": 0.001, "adam": 0.0005}


def test_schema_fills_defaults_and_describes_every_key():
    config = {"preset": "paper", "presets": {"paper": {}, "quick": {}, "smoke": {}}}
    resolved = settings.resolve(config, SCHEMA)
    assert resolved["part_a"]["c1"] == 50 and resolved["part_b"]["clip_mode"] == "value"
    assert resolved["text"]["length"] == 100 and resolved["seeds"] == [1]
    schema = yaml.safe_load(SCHEMA.read_text())

    def undocumented(node, path):
        for name, sub in node.get("properties", {}).items():
            if "$ref" in sub:
                sub = {**schema["$defs"][sub["$ref"].split("/")[-1]], **sub}
            if "description" not in sub:
                yield f"{path}{name}"
            yield from undocumented(sub, f"{path}{name}.")

    assert list(undocumented(schema, "")) == []


def test_missing_preset_section():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    del config["presets"]["quick"]
    with pytest.raises(StudyError, match="presets"):
        settings.resolve(dict(config, preset="quick"), SCHEMA)


def test_a_question_needs_the_questions_it_builds_on(tmp_path):
    """A4 compares A1-A3; A3 takes A2's pair unless one is pinned: a study of some questions says what is missing."""
    workflow = copy_workflow(tmp_path / "workflow")
    result = snakemake(workflow, "-n", "--config", "preset=smoke", "questions=[a1, a4]", check=False)
    assert result.returncode != 0
    assert "config error: questions: a4 builds on a2, a3: list it too (or leave a4 out)" in result.stderr
    pinned = nnstudy_status(workflow, "--config", "preset=smoke", "questions=[a3]", "part_a={optimum: [90, 100]}")
    assert sorted(status_rows(pinned.stdout)) == [
        "c1-90_c2-100_adam_dropout-0_seed-1",
        "c1-90_c2-100_momentum_dropout-0_seed-1",
        "c1-90_c2-100_rmsprop_dropout-0_seed-1",
        "c1-90_c2-100_sgd_dropout-0.5_seed-1",
    ]


def test_a_part_may_have_seeds_of_its_own(tmp_path):
    """A1 at one seed beside Part B at three (the published paper-scale study)."""
    workflow = copy_workflow(tmp_path / "workflow")
    config = ["preset=smoke", "seeds=[1, 2, 3]", "part_a={seeds: [1]}", "questions=[a1, b5]"]
    rows = status_rows(nnstudy_status(workflow, "--config", *config).stdout)
    assert [run for run in rows if run.startswith("c1-")] == ["c1-50_c2-60_sgd_dropout-0_seed-1"]
    assert len(rows) == 1 + 8 * 3


def test_determinism_may_differ_per_model_family():
    """Part A on a GPU without deterministic ops beside Part B's deterministic runs, in one study; --config's
    nested text is typed as the schema says."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["training"] = config["training"] | {"deterministic": {"cifar_cnn": "false"}}
    study = settings.resolve(config, SCHEMA)
    assert plan.run(study, plan.part_a_run(50, 60, seed=1)).settings["deterministic"] is False
    assert plan.run(study, plan.part_b_run("word", "gru", seed=1)).settings["deterministic"] is True
    config["training"]["deterministic"] = "false"
    study = settings.resolve(config, SCHEMA)
    assert plan.run(study, plan.part_b_run("char", "cnn", seed=1)).settings["deterministic"] is False
    with pytest.raises(StudyError, match=r"training\.deterministic: Additional properties"):
        settings.resolve(config | {"training": config["training"] | {"deterministic": {"cnn": False}}}, SCHEMA)
