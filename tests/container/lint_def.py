"""Static checks of an Apptainer definition file (Apptainer is not available here).

Usage: python3 lint_def.py DEF_FILE [ARCHIVE]

Checks: header keys (Bootstrap first, known agent, From present), known and
non-repeated sections, every {{ VAR }} has a default in %arguments, and the
shell sections parse with `sh -n`.  With ARCHIVE, also checks that the file
is a docker-archive (manifest.json with Config and Layers that exist) as the
docker-archive bootstrap agent expects.
"""

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

AGENTS = {
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "localimage",
    "library",
    "oras",
    "shub",
    "scratch",
    "debootstrap",
    "yum",
    "dnf",
    "zypper",
    "busybox",
}
SECTIONS = {
    "arguments",
    "setup",
    "files",
    "environment",
    "post",
    "runscript",
    "startscript",
    "test",
    "labels",
    "help",
    "apprun",
    "applabels",
    "appinstall",
    "appenv",
    "apphelp",
    "appfiles",
    "apptest",
}
SHELL_SECTIONS = {"setup", "environment", "post", "runscript", "startscript", "test"}


def parse(text: str):
    header: list[tuple[str, str]] = []
    sections: list[tuple[str, list[str]]] = []
    current = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        match = re.match(r"^%(\w+)", line)
        if match:
            current = (match.group(1), [])
            sections.append(current)
            continue
        if current is not None:
            current[1].append(raw)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if ":" not in stripped:
            raise ValueError(f"line {number}: header line without 'Key: value': {stripped!r}")
        key, value = stripped.split(":", 1)
        header.append((key.strip(), value.strip()))
    return header, sections


def check_archive(path: str, problems: list[str]) -> None:
    try:
        with tarfile.open(path) as tar:
            names = set(tar.getnames())
            manifest = json.load(tar.extractfile("manifest.json"))
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        problems.append(f"{path}: not a docker-archive ({exc})")
        return
    if not isinstance(manifest, list) or not manifest:
        problems.append(f"{path}: manifest.json is not a non-empty list")
        return
    for entry in manifest:
        for member in [entry.get("Config"), *(entry.get("Layers") or [])]:
            if not member or member not in names:
                problems.append(f"{path}: manifest refers to missing member {member!r}")
        if not entry.get("Layers"):
            problems.append(f"{path}: image without layers")
        print(f"{path}: docker-archive with {len(entry.get('Layers') or [])} layers, tags {entry.get('RepoTags')}")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    problems: list[str] = []
    try:
        header, sections = parse(Path(argv[1]).read_text())
    except ValueError as exc:
        print(f"FAIL: {argv[1]}: {exc}", file=sys.stderr)
        return 1
    keys = [key.lower() for key, _ in header]
    values = {key.lower(): value for key, value in header}
    if not keys or keys[0] != "bootstrap":
        problems.append("the first header keyword must be Bootstrap")
    agent = values.get("bootstrap", "")
    if agent not in AGENTS:
        problems.append(f"unknown bootstrap agent {agent!r}")
    if agent != "scratch" and not values.get("from"):
        problems.append("missing From:")
    names = [name for name, _ in sections]
    for name in names:
        if name not in SECTIONS:
            problems.append(f"unknown section %{name}")
    for name in set(names):
        if names.count(name) > 1 and not name.startswith("app"):
            problems.append(f"section %{name} appears {names.count(name)} times")
    defaults = {}
    for name, body in sections:
        if name == "arguments":
            for line in body:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    defaults[key.strip()] = value.strip()
    text = Path(argv[1]).read_text()
    for var in sorted(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text))):
        if var not in defaults:
            problems.append(f"{{{{ {var} }}}} has no default in %arguments")
    for name, body in sections:
        if name in SHELL_SECTIONS:
            script = "\n".join(body)
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as fh:
                fh.write(script + "\n")
                fh.flush()
                result = subprocess.run(["sh", "-n", fh.name], capture_output=True, text=True, check=False)
            if result.returncode:
                problems.append(f"%{name}: shell syntax error: {result.stderr.strip()}")
    if len(argv) == 3:
        check_archive(argv[2], problems)
    print(
        f"{argv[1]}: Bootstrap {agent}, From {values.get('from')!r}, sections "
        + ", ".join(f"%{n}" for n in names)
        + f", arguments {defaults}"
    )
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
