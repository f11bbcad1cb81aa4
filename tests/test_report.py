"""The HTML report of a generated study (tests/generated_study.py, conftest's
generated_report), and of the real workflow's smoke run."""

from __future__ import annotations

import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, smoke_run_config, snakemake
from generated_study import CONFIG, OPTIMUM, QUESTIONS, SECTIONS, SEEDS

from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.report import html as html_report
from nnstudy.study import questions
from nnstudy.train import identity

REFERENCE_FILES = [REPO / f"data/reference/{name}.csv" for name in ("part_a", "part_b", "b6")]
# Files that snakemake --report must carry.
SNAKEMAKE_REPORT = (
    "all_runs.csv",
    "histories.csv",
    "verdicts.csv",
    "a2_heatmap.png",
    "b6_curves.png",
    "a4_reference.csv",
    "b_accuracy_time.png",
)


@pytest.fixture
def study(generated_report):
    return generated_report


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
    assert "± " in text  # two seeds: mean ± sd in the tables
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
    table = pd.read_csv(study["root"] / "results/tables/masking.csv", dtype=str, keep_default_na=False)
    variants = [m.name for m in (questions.B6_BASELINE, *questions.B6_VARIANTS)]
    assert table["variant"].tolist() == [v for v in variants for _ in (0, 1)]
    assert table["padding"].tolist() == ["unmasked", "masked"] * len(variants)
    assert (table[table["padding"] == "unmasked"]["masking gain (max)"] == "").all()  # the gain is the masked row's
    word_gru = runs[
        (runs["level"] == "word")
        & (runs["architecture"] == "gru")
        & (runs["layers"] == 1)
        & runs["clip_threshold"].isna()
        & (runs["dropout"] == 0)
    ]
    best = word_gru.groupby("mask_padding")["max_test_accuracy"].mean()
    gru = table.set_index(["variant", "padding"]).loc[("GRU (B3 / B4)", "masked")]
    assert float(gru["masking gain (max)"]) == pytest.approx(best[True] - best[False], abs=1e-4)
    assert gru["masking gain (max)"][0] in "+-"
    assert gru["max test acc"].startswith(f"{word_gru[word_gru['mask_padding']]['max_test_accuracy'].mean():.4f} ± ")
    text = " ".join(parse(study["html"]).text)
    assert "Masking changes max test accuracy by" in text


def test_report_renders_without_git(study):
    assert identity.git_commit(study["root"]) is None
    assert "none (not a git checkout)" in study["html"]


def test_missing_figure_is_a_one_line_error(tmp_path):
    with pytest.raises(StudyError, match=r"cannot read absent\.png"):
        html_report.data_uri(tmp_path / "absent.png")


# ---- the real workflow --------------------------------------------------------------------


@pytest.mark.integration
def test_report_after_smoke_run(smoke_run):
    html = (smoke_run / "results/report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert set(SECTIONS) <= page.ids
    assert all(attrs["src"].startswith("data:image/png;base64,") for tag, attrs in page.tags if tag == "img")
    runs = pd.read_csv(smoke_run / "results/tables/all_runs.csv")
    assert len(runs) == 4 + 4 + 1 + 16 + 5 + 2 and runs["run"].is_unique
    for question in QUESTIONS:
        assert len(pd.read_csv(smoke_run / f"results/tables/{question}_reference.csv")) >= 6
    verdicts = pd.read_csv(smoke_run / "results/tables/verdicts.csv")
    assert set(verdicts["question"]) == {"a2", "a4", "b5", "b6", "masking", "layout", "clipping"}
    assert (verdicts["n"] == 1).all()
    histories = pd.read_csv(smoke_run / "results/tables/histories.csv")
    assert len(histories) == len(runs) * 2 and set(histories["run"]) == set(runs["run"])  # two epochs a run
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

    snakemake(smoke_run, "--report", "report.html", *smoke_run_config())
    snakemake(smoke_run, "--report", "report.zip", *smoke_run_config())
    assert (smoke_run / "report.html").stat().st_size > 100_000
    with zipfile.ZipFile(smoke_run / "report.zip") as archive:
        names = archive.namelist()
    for name in SNAKEMAKE_REPORT:
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
    chosen = CONFIG["questions"]
    note = html_report._part_b(runs, CONFIG["part_b"], chosen, plots)["word_rnn_at_chance"]
    assert note["which"] == "with dropout" and note["max"] == 0.08
    unchanged = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    assert html_report._part_b(unchanged, CONFIG["part_b"], chosen, plots)["word_rnn_at_chance"]["runs"] == 0
