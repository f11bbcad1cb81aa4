"""What the HTML report tells a reader beyond its tables: what the study
covers, the verdicts and explanations beside the rows they concern, why the
max is optimistic, and the data it carries (a generated study,
tests/generated_study.py)."""

from __future__ import annotations

import base64
import re
import shutil

import pandas as pd
import pytest
from generated_study import CONFIG, build_study, render_study
from test_report import parse

from nnstudy.report import scope

WHY_WORD_CNN = "<b>under-trained</b> at 5 epochs"


@pytest.fixture(scope="module")
def study(tmp_path_factory, curve_plots):
    """A generated study rendered with a publication's explanations (one with markup in it)."""
    root = tmp_path_factory.mktemp("scope-study")
    files = build_study(root, curve_plots)
    notes = root / "explanations.yaml"
    notes.write_text(f'"b5: Word CNN, with dropout": "{WHY_WORD_CNN}"\n')
    html = render_study(root, files, explanations=notes).read_text(encoding="utf-8")
    return {"root": root, "files": files, "html": html, "page": parse(html)}


def _section(html: str, section: str) -> str:
    return html.split(f'<section id="{section}">')[1]


def _partial_study(study, tmp_path, parts=("part_a", "part_b"), chosen=tuple(CONFIG["questions"]), **kwargs):
    """The report of a study of some parts and questions, from the generated study's files; its parsed page."""
    files = [f for f in study["files"] if any(f"results/{part}/" in f for part in parts)]
    for folder in [*(f"results/{part}" for part in parts), "results/tables", "results/figures"]:
        shutil.copytree(study["root"] / folder, tmp_path / folder)
    page = parse(render_study(tmp_path, files, parts=list(parts), chosen=chosen, **kwargs).read_text(encoding="utf-8"))
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("#")]
    assert all(link[1:] in page.ids for link in links), "a contents link without its target"
    return page, " ".join("".join(page.text).split())


def test_the_whole_study_says_it_covers_both_parts(study):
    text = " ".join("".join(study["page"].text).split())
    assert "Part A: object recognition on CIFAR-10: A1–A4, all of its questions." in text
    assert "Part B: text classification: B1–B6 and the masking ablation, all of its questions." in text
    # The generated preset is not the paper's: what that means for the numbers.
    assert "Part B: 5 epochs (the spec: 250) on 256 training and 128 test documents" in text
    assert "These are not the spec's settings" in text


def test_part_b_study_says_part_a_is_not_in_it(study, tmp_path):
    """A study of Part B alone (parts: [part_b]): Part A is named, with why it is missing, and has no section."""
    notes = tmp_path / "explanations.yaml"
    notes.write_text('"not run: part_a": Part A at paper settings needs a GPU\n')
    page, text = _partial_study(study, tmp_path / "study", parts=["part_b"], explanations=notes)
    assert {"part-b", "b5", "b6", "masking", "all-runs"} <= page.ids and not {"part-a", "a1a", "a4"} & page.ids
    assert (
        "Part A: object recognition on CIFAR-10 (A1–A4) is not in this study: Part A at paper settings needs a GPU."
        in text
    )
    assert "Part A: object recognition on CIFAR-10: not in this study" in text  # the contents say so too
    assert "Part A:" not in text.split("All runs")[1]  # nor anywhere after the contents


def test_a_study_of_some_questions_has_their_sections_only(study, tmp_path):
    """questions: [a1, b5, b6, masking] runs Part A's A1 only: A1's sections, a sentence on A2–A4, no empty one."""
    page, text = _partial_study(study, tmp_path, chosen=("a1", "b5", "b6", "masking"))
    assert {"a1a", "a1b", "b5", "b6", "masking"} <= page.ids and not {"a2", "a3", "a4"} & page.ids
    assert "A2–A4 are not in this study: the study's config leaves them out (questions: [a1, b5, b6, masking])." in text
    assert "No runs of this experiment" not in text
    tables = {attrs["id"] for tag, attrs in page.tags if tag == "table"}
    assert {"table-b5", "table-b6", "table-masking", "table-all-runs"} <= tables and "table-a4" not in tables


def test_verdicts_stand_beside_their_tables(study):
    verdicts = pd.read_csv(study["root"] / "results/tables/verdicts.csv", dtype=str, keep_default_na=False)
    assert set(verdicts["question"]) == {"a2", "a4", "b5", "b6", "masking"}
    for question in ("a2", "a4", "b5", "b6", "masking"):
        section = _section(study["html"], question).split("</section>")[0]
        sentences = verdicts[verdicts["question"] == question]["sentence"]
        assert section.index(f'id="table-{question}"') < section.index("<h4>Verdicts</h4>")
        assert all(sentence in section for sentence in sentences)


def test_explanations_and_reference_flags_beside_their_rows(study):
    b5 = _section(study["html"], "b5").split('id="table-b5-reference"')[1].split("</table>")[0]
    row = b5.split("Word CNN + dropout")[1].split("</tr>")[:2]
    assert '<td class="strong">' in row[0]  # the difference to explain, in bold
    assert "Why ours differs: &lt;b&gt;under-trained&lt;/b&gt; at 5 epochs" in row[1]  # under its row, escaped
    assert re.search(r'<span class="spread">(in (range|CI|range &amp; CI)|outside)</span>', b5)


def test_optimism_sentence_beside_b5_and_in_all_runs(study):
    b5 = _section(study["html"], "b5").split("<h4>Verdicts</h4>")[0]
    assert "The max test accuracy is the best of 5 epochs chosen on the test set itself" in b5
    all_runs = _section(study["html"], "all-runs")
    assert "on 128 test images" in all_runs and "on 128 test documents" in all_runs  # one sentence per part


def test_all_runs_tells_masked_from_unmasked_and_carries_its_data(study):
    page = study["page"]
    section = _section(study["html"], "all-runs").split("</table>")[0]
    assert '<th scope="col" class="text">padding</th>' in section
    assert section.count(">masked</td>") == 5 * 2 and ">unmasked</td>" in section
    downloads = {attrs["download"]: attrs["href"] for tag, attrs in page.tags if tag == "a" and "download" in attrs}
    assert set(downloads) == {"all_runs.csv", "verdicts.csv", "histories.csv"}
    for name, href in downloads.items():
        assert href.startswith("data:text/csv;base64,")
        assert base64.b64decode(href.split(",", 1)[1]) == (study["root"] / f"results/tables/{name}").read_bytes()


def test_times_and_accuracies_are_rounded_for_people(study):
    b5 = pd.read_csv(study["root"] / "results/tables/b5.csv", dtype=str)
    assert b5["training time (s)"].str.fullmatch(r"\d+\.\d{1,2} ± \d+\.\d{1,2}").all()  # 5.70 ± 0.00: three digits
    assert b5["max test acc"].str.fullmatch(r"0\.\d{4} ± 0\.\d{4}").all()
    assert b5["max test acc 95% CI"].str.fullmatch(r"0\.\d{4}–0\.\d{4}").all()
    assert not re.search(r"\d\.\d{5,}", _section(study["html"], "part-b").split('<section id="all-runs">')[0])


def test_a_shortened_study_says_which_of_the_references_findings_it_shows(study):
    """Each difference the reference reports, in its words, with whether this study's points the same way;
    a comparison the reference sees no difference in is left out."""
    b5 = pd.DataFrame({
        "model": ["Char CNN", "Char CNN", "Word CNN", "Word CNN", "Char RNN", "Char RNN"],
        "dropout_label": ["without dropout", "with dropout"] * 3,
        "max_test_accuracy": [0.60, 0.65, 0.80, 0.70, 0.70, 0.72],
        "reference_max_test_accuracy": [0.68, 0.65, 0.85, 0.79, 0.7142, 0.7142],
        "seeds": [1, 1, 2, 2, 1, 1],
    })  # fmt: skip
    found = {finding["says"]: (finding["reproduced"], finding["numbers"]) for finding in scope.findings({"b5": b5})}
    assert found == {
        "dropout lowers Char CNN": (False, "the reference -0.030, here +0.050 (1 seed)"),
        "dropout lowers Word CNN": (True, "the reference -0.060, here -0.100 (2 seeds)"),
        "Char CNN trails Char RNN": (True, "the reference -0.034, here -0.100 (1 seed)"),
    }
    listed = study["html"].split('<ul id="findings">')[1].split("</ul>")[0]
    items = re.findall(r"<li>(.*?)</li>", listed)
    said = re.compile(
        r".+: <strong>(yes|no)</strong> \(the reference [+-]\d\.\d{3}, here [+-]\d\.\d{3} \(\d seeds?\)\)"
    )
    assert items and all(said.fullmatch(item) for item in items), items
