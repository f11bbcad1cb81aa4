"""`nnstudy import OUT_DIR [OUT_DIR ...] STUDY_DIR`: runs made elsewhere, into a study.

Each OUT_DIR is what a call of bench/gpu_part_a.sh handed back (nnstudy.study.handback), another study's
workflow folder (its results/), or a publication folder (docs/paper-results/: its runs' metrics.json are
rebuilt from all_runs.csv and the histories, which hold every value of them but the device's details);
STUDY_DIR is the workflow folder of the study (its config.yaml, with --configfile / --config as given to
snakemake there).
A returned run goes in when the study's config plans it and its metrics.json records the settings that
config asks for: its metrics.json, curves, log and model (where it came back; an older model of the run
goes) are copied as they are, so the run keeps the code identity, precision and device it was made with,
with fresh modification times and without Snakemake's records of an earlier job for those files, so that
Snakemake plans no training job for it. Curves left out of OUT_DIR are drawn from the run's history.

A3's runs are those at the pair the study takes: pinned in its config, or picked here as select_optimum
picks it, from the grid runs the study holds once the others are in. A later
OUT_DIR's copy of a run replaces an earlier one's (a call that continued another returns both). A run the
study does not plan or that was trained with other settings is refused with one line; the study's other runs
are left alone. Exit status 1 when a run was refused.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
from pathlib import Path

from nnstudy import faults, metrics
from nnstudy.analysis.runs import VERSION_KEYS
from nnstudy.errors import StudyError
from nnstudy.study import handback, plan, settings


def _snakemake_record(study_dir: Path, kind: str, path: str) -> Path:
    """Where Snakemake keeps its record of kind `kind` (incomplete, metadata) for an output `path`."""
    name = base64.urlsafe_b64encode(path.encode()).decode()
    parts = [name[i : i + 254] for i in range(0, len(name), 254)]  # its file backend's split of long names
    return Path(study_dir, ".snakemake", kind, *(["@" + p for p in parts[:-1]] + parts[-1:]))


def study_pair(study: dict, study_dir: Path) -> tuple[int, int] | None:
    """The study's A3 pair: pinned in its config, else the pair select_optimum picks from the grid runs the
    study holds (an optimum.json older than them is picked again); None while its grid is not complete or
    holds runs of other settings, or where the study has no A3."""
    if "a3" not in plan.chosen_questions(study):
        return None
    if study["part_a"]["optimum"]:
        return tuple(study["part_a"]["optimum"])
    grid = [study_dir / folder / "metrics.json" for folder in plan.question_runs("a2", study)]
    if not all(path.is_file() for path in grid):
        return None
    from nnstudy.analysis import runs, tables

    try:
        return tables.best_pair(runs.collect(grid, study))
    except StudyError:
        return None


def check(study: dict, folder: str, document: dict) -> str | None:
    """Why a returned run cannot join the study (None: it can)."""
    changes = plan.run(study, folder).changes(plan.recorded_settings(document))
    if changes:
        return f"trained with other settings than the study's config asks for ({', '.join(changes)})"
    return None


def copy_run(source: Path, study_dir: Path, run: plan.Run, history: list[dict]) -> str:
    """The run's files from `source` (an unpacked OUT_DIR) into the study; what came with it."""
    folder = run.folder
    target = study_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    came = []
    for name in ("metrics.json", *plan.CURVES.values(), handback.MODEL_FILE):
        path = source / folder / name
        if path.is_file():
            faults.write_atomically(target / name, lambda partial, path=path: shutil.copyfile(path, partial))
            came.append(name)
    if handback.MODEL_FILE not in came:
        (study_dir / run.model_file).unlink(missing_ok=True)  # a model of the run that these metrics do not describe
    drawn = [plot for plot, path in run.curves.items() if not (study_dir / path).is_file()]
    if drawn:
        from nnstudy import plots

        for plot in drawn:
            plots.learning_curves(history, plot, f"{run.label}: {plot}", study_dir / run.curves[plot])
    if (source / run.log).is_file():
        (study_dir / run.log).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / run.log, study_dir / run.log)
    for output in (run.metrics, *run.curves.values()):
        for kind in ("incomplete", "metadata"):
            _snakemake_record(study_dir, kind, output).unlink(missing_ok=True)
    weights = "weights" if handback.MODEL_FILE in came else "no weights"
    return f"metrics, curves{' (drawn here)' if drawn else ''}, log, {weights}"


def import_runs(outs: list[Path], study_dir: Path, study: dict, log=print) -> int:
    """Import every run of the OUT_DIRs into the study; the number refused."""
    with tempfile.TemporaryDirectory(prefix="nnstudy-import-") as tmp:
        returned = {}  # run folder → the unpacked OUT_DIR holding it (the last given)
        for index, out in enumerate(outs):
            into = Path(tmp) / str(index)
            if (out / handback.RESULTS).is_file():
                handback.unpack(out, into)
            elif (out / "results").is_dir():
                into = out
            elif (out / "all_runs.csv").is_file() and (out / "publication.json").is_file():
                published_runs(out, into)
            else:
                raise StudyError(
                    f"{out}: neither what bench/gpu_part_a.sh hands back ({handback.RESULTS}), nor a study's "
                    "folder (results/), nor a publication (all_runs.csv, publication.json)"
                )
            runs = list(into.glob("results/*/runs/*/metrics.json"))
            if not runs:
                log(f"{out}: no finished runs")
            for path in runs:
                returned[str(path.parent.relative_to(into))] = into
        waiting, refused = {}, 0
        for folder, source in sorted(returned.items()):
            try:
                document = metrics.read(source / folder / "metrics.json")
                problem = check(study, folder, document)
            except StudyError:
                document, problem = None, "its metrics.json is damaged (a bad copy?)"
            if problem:
                log(f"refused {folder}: {problem}")
                refused += 1
            else:
                waiting[folder] = (source, document)
        # Twice: A3's runs are the study's once its grid is (the first round may bring the grid).
        for _ in range(2):
            planned = set(plan.training_runs(study, study_pair(study, study_dir)))
            for folder in [folder for folder in waiting if folder in planned]:
                source, document = waiting.pop(folder)
                came = copy_run(source, study_dir, plan.run(study, folder), document["history"])
                log(f"imported {folder}: {came}")
        for folder in waiting:
            log(f"refused {folder}: not a run of the study's config{_why_not_planned(study, study_dir)}")
            refused += 1
    return refused


def published_runs(folder: Path, into: Path) -> None:
    """A publication's runs as metrics.json files under `into`/results: all_runs.csv's row of each run (its
    hyper-parameters, summary, versions, code and device) and its every epoch from the histories."""
    import pandas as pd

    from nnstudy.analysis import runs as study_runs
    from nnstudy.analysis import stats
    from nnstudy.train.job import HYPERPARAMETERS

    table = study_runs.read_all_runs(folder / "all_runs.csv")
    histories = pd.read_csv(next(folder.glob("histories.csv*")))
    epoch_keys = [key for key in stats.HISTORY_COLUMNS if key not in ("run", "part", "seed")]
    for _, row in table.iterrows():
        found = {key: _plain(value) for key, value in row.items() if _plain(value) is not None}
        part = "part_a" if found["part"] == "A" else "part_b"
        extra = ("vocabulary_size", "length") if part == "part_b" else ()
        sizes = ("train_size", "test_size", "backend", "precision", "engine", "matmul_precision")
        hyperparameters = {key: found.get(key) for key in HYPERPARAMETERS[part]}  # None recorded as such
        hyperparameters |= {key: found[key] for key in (*extra, *sizes) if key in found}
        if found.get("pixel_layout", plan.DEFAULT_LAYOUT) != plan.DEFAULT_LAYOUT:  # recorded where not the default
            hyperparameters["pixel_layout"] = found["pixel_layout"]
        epochs = histories[histories["run"] == found["run"]].sort_values("epoch")
        history = [{key: _plain(entry[key]) for key in epoch_keys} for _, entry in epochs.iterrows()]
        document = {key: found[key] for key in ("run", "part", "label", "seed")} | {
            "hyperparameters": hyperparameters,
            "code": {"identity": found.get("code_identity"), "commit": found.get("code_commit")},
            "history": [entry | {"epoch": int(entry["epoch"])} for entry in history],
            "summary": metrics.summarize(history),
            "parameters": found.get("parameters"),
            "job_seconds": found.get("job_seconds"),
            "device": {"type": found.get("device"), "name": found.get("device_name")},
            "versions": {key: found[f"{key}_version"] for key in VERSION_KEYS if f"{key}_version" in found},
            "imported_from": str(folder),
        }
        target = into / Path(found["metrics_file"]).parent
        target.mkdir(parents=True, exist_ok=True)
        metrics.write(target / "metrics.json", document)


def _plain(value):
    """A table cell as JSON holds it: None for an empty one, Python numbers for numpy's."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _why_not_planned(study: dict, study_dir: Path) -> str:
    if "a3" in plan.chosen_questions(study) and not study["part_a"]["optimum"] and study_pair(study, study_dir) is None:
        return " (or one of A3's, which are known once the study holds its whole grid: import the grid first)"
    return ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="nnstudy import", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "outs", nargs="+", type=Path, metavar="OUT_DIR", help="a call's, a study's or a publication's folder"
    )
    parser.add_argument("study", type=Path, metavar="STUDY_DIR", help="the study's workflow folder")
    parser.add_argument("--configfile", type=Path, nargs="+", default=[], help="as given to snakemake")
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="as given to snakemake")
    args = parser.parse_args(argv)
    try:
        study = settings.load(args.study, args.configfile, args.config)
        refused = import_runs(args.outs, args.study, study)
    except StudyError as err:
        sys.exit(f"error: {err}")
    if refused:
        sys.exit(1)


if __name__ == "__main__":
    main()
