"""Aggregation, the reference comparison and the HTML report, on a generated study
(tests/generated_study.py)."""

from __future__ import annotations

import math
import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, smoke_config, snakemake
from generated_study import A1_PAIR, CONFIG, OPTIMUM, QUESTIONS, SECTIONS, SEEDS, build_study, render_study

from nnstudy import identity, metrics, questions
from nnstudy.analysis import reference
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.report import cells
from nnstudy.report import html as html_report

REFERENCE_FILES = [REPO / f"data/reference/{name}.csv" for name in ("part_a", "part_b", "b6")]


@pytest.fixture(scope="module")
def study(tmp_path_factory, curve_plots):
    """A generated study, rendered; paths are relative to its root (the cwd of a job)."""
    root = tmp_path_factory.mktemp("study")
    files = build_study(
        root, curve_plots, relabel={"c1-10_c2-20_sgd_dropout-0_seed-1": "<script>alert('label')</script>"}
    )
    reference = root / "reference"
    shutil.copytree(REPO / "data/reference", reference)
    part_b = pd.read_csv(reference / "part_b.csv", dtype={"note": str})
    part_b.loc[0, "note"] = "<img src=x onerror=alert(1)> & friends"
    part_b.to_csv(reference / "part_b.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the jobs run in the workflow directory: relative paths, as in Snakemake
        output = render_study(Path("."), files, reference_dir=Path("reference"))
    return {"root": root, "files": files, "html": (root / output).read_text(encoding="utf-8")}


class _Page(HTMLParser):
    """Collects what the report tests look at: tags with attributes, ids, scripts, text."""

    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.scripts, self.text = [], set(), [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


# ---- aggregation ---------------------------------------------------------------------


def test_all_runs_one_row_per_run_one_column_per_setting(study):
    runs = pd.read_csv(study["root"] / "results/tables/all_runs.csv")
    assert len(runs) == len(study["files"]) == (4 + 4) * 2 + (16 + 5) * 2
    assert runs["run"].is_unique
    expected = {
        "c1",
        "c2",
        "optimizer",
        "momentum",
        "level",
        "architecture",
        "layers",
        "dropout",
        "clip_threshold",
        "mask_padding",
        "learning_rate",
        "batch_size",
        "epochs",
        "max_test_accuracy",
        "mean_test_accuracy",
        "final_test_accuracy",
        "best_epoch",
        "final_train_loss",
        "train_seconds",
        "job_seconds",
        "parameters",
        "device",
        "device_name",
        "tensorflow_version",
        "metrics_file",
    }
    assert expected <= set(runs.columns)
    part_b = runs[runs["part"] == "B"]
    assert part_b["c1"].isna().all() and runs[runs["part"] == "A"]["level"].isna().all()
    # whole numbers stay whole in the CSV despite the gaps
    assert "10,20,sgd" in (study["root"] / "results/tables/all_runs.csv").read_text()
    first = runs.set_index("run").loc["char-gru_layers-1_dropout-0_clip-2_padding-unmasked_seed-2"]
    document = metrics.read(study["root"] / first["metrics_file"])
    assert first["max_test_accuracy"] == pytest.approx(document["summary"]["max_test_accuracy"])
    assert first["clip_threshold"] == 2.0 and first["seed"] == 2


def test_a4_names_follow_the_study_table(study):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    a4 = study_runs.question_runs("a4", runs, CONFIG["part_a"], OPTIMUM)
    table = pd.read_csv(study["root"] / "results/tables/a4.csv")
    assert list(dict.fromkeys(a4["experiment"])) == table["experiment"].tolist()
    assert a4.groupby("experiment").size().eq(len(SEEDS)).all()
    # A1's pair as the optimum: one run under both names
    same = study_runs.question_runs("a4", runs, CONFIG["part_a"], A1_PAIR)
    assert {"A1 SGD", "A2 SGD (grid optimum)"} <= set(same["experiment"])
    assert (
        same[same["experiment"] == "A1 SGD"]["run"].tolist()
        == same[same["experiment"] == "A2 SGD (grid optimum)"]["run"].tolist()
    )


def test_reference_comparison_differences_and_notes(study):
    tables_dir = study["root"] / "results/tables"
    a4 = pd.read_csv(tables_dir / "a4_reference.csv").set_index("experiment")
    reference = pd.read_csv(REPO / "data/reference/part_a.csv").set_index("experiment")
    runs = study_runs.question_runs(
        "a4", study_runs.read_all_runs(tables_dir / "all_runs.csv"), CONFIG["part_a"], OPTIMUM
    )
    for name in reference.index:
        ours = runs[runs["experiment"] == name]["max_test_accuracy"]
        assert a4.loc[name, "max_test_accuracy"] == pytest.approx(ours.mean())
        assert a4.loc[name, "max_test_accuracy_std"] == pytest.approx(ours.std(ddof=1))
        assert a4.loc[name, "difference_max_test_accuracy"] == pytest.approx(
            ours.mean() - reference.loc[name, "max_test_accuracy"]
        )
        assert a4.loc[name, "seeds"] == len(SEEDS)
    assert "failed to learn" in a4.loc["A3c Adam", "note"]
    assert a4.loc["A2 SGD (grid optimum)", ["c1", "c2", "reference_c1", "reference_c2"]].tolist() == [*OPTIMUM, 90, 100]
    b5 = pd.read_csv(tables_dir / "b5_reference.csv")
    assert len(b5) == 8 and b5["reference_train_seconds"].notna().all() and b5["difference_train_seconds"].notna().all()
    row = b5[(b5["model"] == "Word RNN") & (b5["dropout_label"] == "with dropout")].iloc[0]
    assert row["reference_max_test_accuracy"] == 0.8842
    b6 = pd.read_csv(tables_dir / "b6_reference.csv")
    assert len(b6) == 10 and b6["reference_max_test_accuracy"].notna().all()
    baseline = b6[(b6["variant"] == "GRU (B3 / B4)") & (b6["level"] == "char")].iloc[0]
    assert baseline["reference_max_test_accuracy"] == 0.7142  # the reference's B5 Char RNN


def test_reference_keeps_models_we_did_not_run(study):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    runs = runs[~((runs["part"] == "A") & (runs["optimizer"] == "adam"))]
    chosen = study_runs.question_runs("a4", runs, CONFIG["part_a"], OPTIMUM)
    table = reference.reference_comparison("a4", chosen, reference.read_reference(REFERENCE_FILES), CONFIG["part_a"])
    adam = table.set_index("experiment").loc["A3c Adam"]
    assert math.isnan(adam["max_test_accuracy"]) and adam["reference_max_test_accuracy"] == 0.1 and adam["seeds"] == 0
    shown = cells.comparison_context("a4", table)
    assert shown["rows"][[r[0] for r in shown["rows"]].index("A3c Adam")][3] == "–"
    assert table["experiment"].tolist()[-2:] == ["A3c Adam", "A3d SGD + dropout"]  # the study's order


def _spec_tables(text: str) -> list[list[list[str]]]:
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def test_reference_data_is_the_spec(tmp_path):
    spec = REPO.parent / "shared" / "SPEC.md"
    if not spec.is_file():
        pytest.skip(f"{spec} not available")
    part_a, part_b, b6 = _spec_tables(spec.read_text())[-3:]
    numbers = reference.read_reference(REFERENCE_FILES)
    ours_a = numbers["part_a"]
    assert [[float(r[3]), float(r[4].split()[0])] for r in part_a[1:]] == ours_a[
        ["max_test_accuracy", "mean_test_accuracy"]
    ].values.tolist()
    assert [[int(r[1]), int(r[2])] for r in part_a[1:]] == ours_a[["c1", "c2"]].values.tolist()
    ours_b = numbers["part_b"].set_index(["model", "dropout"])
    names = {"CharCNN": "Char CNN", "WordCNN": "Word CNN", "CharRNN": "Char RNN", "WordRNN": "Word RNN"}
    for row in part_b[1:]:
        assert ours_b.loc[(names[row[0]], "no")].tolist()[:3] == [float(row[1]), float(row[2]), float(row[3])]
        assert ours_b.loc[(names[row[0]], "yes")].tolist()[:3] == [float(row[4]), float(row[5]), float(row[6])]
    ours_b6 = numbers["b6"].set_index(["variant", "level"])
    variants = {
        "vanilla RNN": "vanilla RNN",
        "LSTM": "LSTM",
        "2-layer GRU": "2-layer GRU",
        "gradient clipping": "gradient clipping",
    }
    for row in b6[1:]:
        assert ours_b6.loc[(variants[row[0]], "char"), "max_test_accuracy"] == float(row[1])
        assert ours_b6.loc[(variants[row[0]], "char"), "mean_test_accuracy"] == float(row[2])
        assert ours_b6.loc[(variants[row[0]], "word"), "max_test_accuracy"] == float(row[3])
        assert ours_b6.loc[(variants[row[0]], "word"), "mean_test_accuracy"] == float(row[4])


# ---- the HTML report -------------------------------------------------------------------


def test_report_is_self_contained(study):
    html = study["html"]
    page = parse(html)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    # 8 summary figures, 2 feature maps, two plots per run (A1's runs in A1a and in the A2 grid,
    # the five unmasked word-level RNNs in B5/B6 and in the masking ablation)
    assert len(images) == 8 + 2 + 2 * (len(study["files"]) + len(SEEDS) + 5 * len(SEEDS))
    shown = {attrs["alt"].removeprefix("cost curves of ") for attrs in images if attrs["alt"].startswith("cost curves")}
    assert shown == {Path(f).parent.name for f in study["files"]}  # every run's curves
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"(https?:)?//", value), f"<{tag} {name}={value}> needs a network"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), "external stylesheet"
    assert not page.scripts, "the report needs no script"
    assert "<style>" in html and "table.study-table" in html


def test_report_has_contents_sections_tables_and_figures(study):
    page = parse(study["html"])
    assert set(SECTIONS) <= page.ids
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("#")]
    assert {f"#{s}" for s in SECTIONS} <= set(links)
    assert all(link[1:] in page.ids for link in links), "a contents link without its target"
    for table_id in (
        "table-a2",
        "table-a4",
        "table-b5",
        "table-b6",
        "table-masking",
        "table-a4-reference",
        "table-b5-reference",
        "table-b6-reference",
        "table-all-runs",
        "table-versions",
        "table-jobs",
    ):
        assert table_id in page.ids
    text = " ".join(page.text)
    assert "Adam run failed to learn" in text
    assert f"({OPTIMUM[0]}, {OPTIMUM[1]})" in text
    assert "± " in text  # two seeds: mean ± std in the tables
    assert "best max test accuracy of 8 grid runs" in text  # where the optimum came from
    for fact in ("3.11.7", "2.21.0", "x86_64", "Total compute", "preset: generated"):
        assert fact in text


def test_report_rows_match_the_tables(study):
    html = study["html"]
    root = study["root"] / "results/tables"
    for name, table_id in (("a2", "table-a2"), ("b6", "table-b6")):
        expected = pd.read_csv(root / f"{name}.csv", dtype=str, keep_default_na=False)
        section = html.split(f'id="{table_id}"')[1].split("</table>")[0]
        assert section.count("<tr>") == len(expected) + 1
        assert all(str(cell) in section for cell in expected.iloc[0])


def test_data_cannot_inject_markup(study):
    html = study["html"]
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; friends" in html
    assert not parse(html).scripts


def test_masking_ablation_pairs_each_word_rnn(study):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    table = pd.read_csv(study["root"] / "results/tables/masking.csv", dtype=str)
    assert table["variant"].tolist() == [m.name for m in (questions.B6_BASELINE, *questions.B6_VARIANTS)]
    word_gru = runs[
        (runs["level"] == "word")
        & (runs["architecture"] == "gru")
        & (runs["layers"] == 1)
        & runs["clip_threshold"].isna()
        & (runs["dropout"] == 0)
    ]
    best = word_gru.groupby("mask_padding")["max_test_accuracy"].mean()
    gru = table.set_index("variant").loc["GRU (B3 / B4)"]
    assert float(gru["masking gain (max)"]) == pytest.approx(best[True] - best[False], abs=1e-4)
    assert gru["max test acc (masked)"].startswith(
        f"{word_gru[word_gru['mask_padding']]['max_test_accuracy'].mean():.4f} ± "
    )
    text = " ".join(parse(study["html"]).text)
    assert "Masking changes max test accuracy by" in text


@pytest.mark.parametrize("mask_padding", [False, True])
def test_b5_and_b6_take_the_study_padding_setting(study, mask_padding):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    config = CONFIG["part_b"] | {"mask_padding": mask_padding}
    for question in ("b5", "b6"):
        chosen = study_runs.question_runs(question, runs, config)
        word_rnns = chosen[(chosen["level"] == "word") & (chosen["architecture"] != "cnn")]
        assert len(word_rnns) and (word_rnns["mask_padding"] == mask_padding).all()
        assert chosen["run"].is_unique
    assert len(study_runs.question_runs("b6", runs, config)) == 10 * len(SEEDS)


def test_part_b_study_has_a_report_of_its_own(study, tmp_path):
    """A study of Part B alone (parts: [part_b]): no Part A section, no dangling link."""
    files = [f for f in study["files"] if "part_b" in f]
    shutil.copytree(study["root"] / "results/part_b", tmp_path / "results/part_b")
    shutil.copytree(study["root"] / "results/tables", tmp_path / "results/tables")
    page = parse(render_study(tmp_path, files, parts=["part_b"]).read_text(encoding="utf-8"))
    assert {"part-b", "b5", "b6", "masking", "all-runs"} <= page.ids and "part-a" not in page.ids
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("#")]
    assert all(link[1:] in page.ids for link in links)
    assert "Part A:" not in " ".join(page.text)


def test_report_renders_without_git(study):
    assert identity.git_commit(study["root"]) is None
    assert "none (not a git checkout)" in study["html"]


def test_seconds_format():
    assert html_report.format_seconds(3.21) == "3.2 s"
    assert html_report.format_seconds(125) == "2 min 5 s"
    assert html_report.format_seconds(2 * 3600 + 61) == "2 h 1 min"
    assert html_report.format_seconds(float("nan")) == "–"


def test_missing_figure_is_a_one_line_error(tmp_path):
    with pytest.raises(StudyError, match="cannot read figure"):
        html_report.data_uri(tmp_path / "absent.png")


# ---- the real workflow --------------------------------------------------------------------


@pytest.mark.integration
def test_report_after_smoke_run(smoke_run):
    html = (smoke_run / "results/report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert set(SECTIONS) <= page.ids
    assert all(attrs["src"].startswith("data:image/png;base64,") for tag, attrs in page.tags if tag == "img")
    runs = pd.read_csv(smoke_run / "results/tables/all_runs.csv")
    assert len(runs) == 25 + 4 + 16 + 5 and runs["run"].is_unique
    for question in QUESTIONS:
        assert len(pd.read_csv(smoke_run / f"results/tables/{question}_reference.csv")) >= 6
    for name in (
        "a2_heatmap",
        "a4_comparison",
        "a4_curves",
        "b5_comparison",
        "b5_curves",
        "b6_comparison",
        "b6_curves",
        "b_accuracy_time",
    ):
        assert (smoke_run / f"results/figures/{name}.png").stat().st_size > 10_000

    snakemake(smoke_run, "--report", "report.html", *smoke_config())
    snakemake(smoke_run, "--report", "report.zip", *smoke_config())
    assert (smoke_run / "report.html").stat().st_size > 100_000
    with zipfile.ZipFile(smoke_run / "report.zip") as archive:
        names = archive.namelist()
    for name in ("all_runs.csv", "a2_heatmap.png", "b6_curves.png", "a4_reference.csv", "b_accuracy_time.png"):
        assert any(entry.endswith(f"/{name}") for entry in names), f"{name} not in report.zip"


def test_a_word_rnn_at_chance_is_named_in_b5(study, monkeypatch):
    """The quick preset's unmasked word RNN learns nothing in 10 epochs: B5 says so, naming the run."""
    monkeypatch.chdir(study["root"])  # the curves' paths are relative, as in a job
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    plots = html_report.curve_plots(
        Path(f).parent / f"{plot}.png" for f in study["files"] for plot in ("costs", "accuracies")
    )
    stuck = (
        (runs["level"] == "word")
        & (runs["architecture"] == "gru")
        & (runs["dropout"] > 0)
        & runs["mask_padding"].eq(False)
    )
    runs.loc[stuck, "max_test_accuracy"] = 0.08
    note = html_report._part_b(runs, CONFIG["part_b"], plots)["word_rnn_at_chance"]
    assert note["which"] == "with dropout" and note["max"] == 0.08
    unchanged = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    assert html_report._part_b(unchanged, CONFIG["part_b"], plots)["word_rnn_at_chance"]["runs"] == 0
