"""Cluster requests: wall time from measured epoch times, packs of training runs."""

import copy
import itertools

import pytest
import yaml
from conftest import REPO

from nnstudy.study import packs, plan, settings


@pytest.fixture(scope="module")
def study():
    return settings.resolve(yaml.safe_load((REPO / "config.yaml").read_text()))


def test_paper_requests_are_minutes_not_hours(study):
    requests = study["cluster"]
    assert requests["device"] == "gpu" and requests["seconds_per_epoch"]["gpu"]["cifar_cnn"] == 0.2
    # 10 + 3 × 1000 × 0.2 / 60: the old flat estimate asked for 1010 minutes.
    assert packs.wall_minutes(requests, model="cifar_cnn", epochs=1000) == 20
    assert packs.wall_minutes(requests, model="word_gru", epochs=250, layers=2) == 15
    assert packs.wall_minutes(requests, model="cifar_cnn", epochs=1000, attempt=2) == 40
    # A pack of 4 asks for 4 times its longest run's training time.
    assert packs.wall_minutes(requests, model="cifar_cnn", epochs=1000, runs_per_allocation=4) == 50


def test_cpu_nodes_and_a_users_figure(study):
    requests = copy.deepcopy(study["cluster"]) | {"device": "cpu", "safety_factor": 1, "startup_minutes": 0}
    assert packs.wall_minutes(requests, model="char_cnn", epochs=60) == 10  # 60 × 9.9 s
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["cluster"] = {"seconds_per_epoch": {"gpu": {"cifar_cnn": 1.5}}}
    table = settings.resolve(config)["cluster"]["seconds_per_epoch"]["gpu"]
    assert table["cifar_cnn"] == 1.5 and table["char_lstm"] == 0.3  # the others keep their defaults


def test_a_presets_share_of_the_data(study):
    assert packs.data_share("part_a", None, None) == 1.0
    assert packs.data_share("part_a", 2000, 1000) == 0.5  # the test set's half outweighs 20 % of the training set
    assert packs.data_share("part_b", 2800, 700) == 1.0  # quick: half the documents, all the test set
    assert packs.data_share("part_b", 10**6, None) == 1.0


def test_packs_hold_runs_of_similar_length_and_every_run_once(study):
    runs = plan.training_runs(study)
    minutes = {run: 30 if "part_a" in run else len(run) % 7 for run in runs}
    found = packs.packs(runs, minutes.get, 4)
    assert sorted(run for pack in found for run in pack) == sorted(runs)
    assert [len(pack) for pack in found] == [4] * (len(runs) // 4) + ([len(runs) % 4] if len(runs) % 4 else [])
    longest = [max(map(minutes.get, pack)) for pack in found]
    assert longest == sorted(longest, reverse=True)
    assert all(min(map(minutes.get, a)) >= max(map(minutes.get, b)) for a, b in itertools.pairwise(found))


def test_run_folders_give_back_their_wildcards(study):
    runs = plan.training_runs(study, optimum=(50, 60))
    for run in runs:
        wildcards = plan.run_wildcards(run)
        part = wildcards.pop("part")
        pattern = plan.PART_A_RUN if part == "part_a" else plan.PART_B_RUN
        assert pattern.format(**wildcards) == run
    with pytest.raises(ValueError, match="not a run folder"):
        plan.run_wildcards("results/part_a/runs/unknown")
