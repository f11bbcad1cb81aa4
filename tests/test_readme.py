"""Every command the README shows works as written: a copy of the finished smoke study runs each one, with
`$STUDY` set to that study's config as the README tells its reader to, dry (`-n`) where it would train."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import CIFAR_DIR, REPO, SMOKE_STUDY

README = REPO / "README.md"
# What the README's commands start with; the set-up and the test command itself are CI's own stages.
COMMAND = re.compile(r"^(\.venv/bin/)?(snakemake|nnstudy|rm) ")
SET_UP = ("python3 -m venv", ".venv/bin/python -m pytest")


def readme_commands() -> list[str]:
    """The README's commands: its bash blocks' lines (the last of a set-up's `&&` chain: the study it starts)
    and the first cells of its tables that hold a command (a word and its arguments; a preset's name is none)."""
    text = README.read_text()
    found = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            if line.startswith(SET_UP[0]):
                line = line.split(" && ")[-1]
            if line.strip() and not line.startswith(SET_UP[1]):
                found.append(line)
    found += re.findall(r"^\| `([^`]+ [^`]+)` \|", text, re.M)
    return found


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert sum(command.startswith("STUDY=") for command in commands) == 1
    assert all(COMMAND.match(command) or command.startswith("STUDY=") for command in commands), commands
    # Targets before --config, which takes every word after it; nested keys as YAML, never dotted.
    for command in commands:
        words = shlex.split(command.split(" && ")[-1])
        if "--config" in words:
            after = words[words.index("--config") + 1 :]
            assert not any(word.startswith(("results/", "-")) for word in after if word != "$STUDY"), command
        assert not re.search(r"--config [^-]*\b\w+\.\w+=", command), command


@pytest.mark.integration
def test_every_readme_command_runs_as_written(smoke_run, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(smoke_run, study, symlinks=True)
    shutil.copytree(REPO / "docs/paper-results", study / "docs/paper-results")  # what `nnstudy compare` checks against
    # The smoke study's own settings in its config.yaml, so that `--config $STUDY` is its whole config.
    config = yaml.safe_load((study / "config.yaml").read_text())
    for section, settings in SMOKE_STUDY.items():
        config[section] |= settings
    (study / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (study / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "shared").symlink_to(CIFAR_DIR.parents[1])  # the README's ../shared/data/cifar10
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in readme_commands():
        if command.startswith("STUDY="):
            env["STUDY"] = f"preset=smoke cifar10_dir={CIFAR_DIR}"
            continue
        trains = re.search(r"(^|[ /])snakemake ", command) is not None and "--report" not in command
        shell = re.sub(r"(^|&& )((\.venv/bin/)?snakemake) ", r"\1\2 -n ", command) if trains else command
        result = subprocess.run(
            ["bash", "-c", shell], cwd=study, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0 and "Traceback" not in output, f"{command}\n{output[-3000:]}"
        if "--forcerun" in command:  # the finished run trains afresh, alone
            assert re.search(r"^train_\w+\s+1$", result.stdout, re.M), result.stdout
        if command.startswith("nnstudy status") or "/nnstudy status" in command:
            assert "stale" not in result.stdout and " done" in result.stdout, result.stdout
    assert (study / "report.html").stat().st_size > 100_000
