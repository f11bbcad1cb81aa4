"""What a call on a lent GPU machine hands back, and reading it back into a study (`nnstudy import`).

A call brings back at most MAX_FILES files of at most MAX_FILE_BYTES each, MAX_TOTAL_BYTES together (the
device's 8 files of 16 MiB, 64 MiB in all, with a margin). `pack` fills its output folder with

- RESULTS (results.tgz): every file of the workflow folder the study needs back but the weights: each run's
  metrics.json and curves, optimum.json, logs, benchmarks, the resume histories and pack manifests of runs
  not finished (how far they got) and the call's own record (CALL_FOLDER: configs, summary.json);
- WEIGHTS (weights-1.tar, …): the runs' model.keras files as far as they fit, the first named first (A1's,
  for its feature maps), then the smallest; tars, not compressed: a .keras file is a zip already;
- room for the call's own log and summary (RESERVED_BYTES).

and says what it left out and why. The limits are checked again on the folder as it is at the end (`check`).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MIB = 2**20
MAX_FILES = 8
MAX_FILE_BYTES = 15 * MIB
MAX_TOTAL_BYTES = 60 * MIB
RESERVED_FILES = ("run.log", "summary.txt")  # written by the call around `pack`: its log and its summary
RESERVED_BYTES = 1 * MIB
RESULTS = "results.tgz"
WEIGHTS = "weights-{index}.tar"
WEIGHTS_PATTERN = re.compile(r"weights-\d+\.tar")
# The call's own files inside RESULTS (bench/gpu_part_a.py writes them there).
CALL_FOLDER = ".gpu-part-a"
MODEL_FILE = "model.keras"


@dataclass
class Packed:
    """What `pack` wrote (name → bytes) and what it left out ("what (why)")."""

    files: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


def results_groups(workdir: Path) -> list[tuple[str, list[Path]]]:
    """The files of RESULTS in groups, most needed first: (what, paths relative to workdir)."""
    workdir = Path(workdir)

    def found(*patterns: str) -> list[Path]:
        paths = {path for pattern in patterns for path in workdir.glob(pattern) if path.is_file()}
        return sorted(path.relative_to(workdir) for path in paths)

    finished = {path.parent.name for path in workdir.glob("results/*/runs/*/metrics.json")}
    resume = [path for path in found("resume/**/history.json") if path.parent.name not in finished]
    return [
        ("runs' metrics", found("results/*/runs/*/metrics.json", "results/part_a/optimum.json", f"{CALL_FOLDER}/*")),
        ("unfinished runs' histories", [*resume, *found("resume/*/packs/*.json")]),
        ("learning curves", found("results/*/runs/*/*.png")),
        ("logs and benchmarks", found("logs/**/*", "benchmarks/**/*")),
    ]


def _tgz(workdir: Path, paths: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in paths:
            archive.add(Path(workdir) / path, arcname=str(path), recursive=False)
    return buffer.getvalue()


def pack(workdir: Path, out: Path, weights_first: list[str] = ()) -> Packed:
    """Write RESULTS and WEIGHTS for the workflow folder `workdir` into `out` (see the module's docstring).

    weights_first: run folders whose model goes first (A1's). RESULTS leaves out its least needed groups
    while it would be over MAX_FILE_BYTES; the weights fill what is left of MAX_FILES and MAX_TOTAL_BYTES.
    """
    workdir, out = Path(workdir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    packed = Packed()
    groups = results_groups(workdir)
    while True:
        data = _tgz(workdir, [path for _, paths in groups for path in paths])
        if len(data) <= MAX_FILE_BYTES or len(groups) == 1:
            break
        what, paths = groups.pop()
        packed.left_out.append(f"{what}, {len(paths)} files ({RESULTS} would be over {MAX_FILE_BYTES // MIB} MiB)")
    if len(data) > MAX_FILE_BYTES:
        packed.left_out.append(f"{RESULTS} ({len(data) / MIB:.1f} MiB of metrics alone: over the limit)")
    else:
        (out / RESULTS).write_bytes(data)
        packed.files[RESULTS] = len(data)
    _pack_weights(workdir, out, weights_first, packed)
    return packed


def _pack_weights(workdir: Path, out: Path, first: list[str], packed: Packed) -> None:
    """Models into tars of at most MAX_FILE_BYTES while files and bytes are left: `first` first, then the
    smallest (the most runs)."""
    order = {folder: index for index, folder in enumerate(first)}
    models = sorted(
        workdir.glob(f"results/*/runs/*/{MODEL_FILE}"),
        key=lambda path: (order.get(str(path.parent.relative_to(workdir)), len(order)), path.stat().st_size, path),
    )
    room = MAX_TOTAL_BYTES - RESERVED_BYTES - sum(packed.files.values())
    bins: list[list[Path]] = []
    sizes: list[int] = []
    header = 3 * 512  # a tar member's header and padding, and the archive's end, at most
    for model in models:
        size = model.stat().st_size + header
        slot = next((i for i, used in enumerate(sizes) if used + size <= MAX_FILE_BYTES), None)
        if size > room:
            packed.left_out.append(f"{model.parent.name}'s weights (over {MAX_TOTAL_BYTES // MIB} MiB together)")
        elif slot is None and len(packed.files) + len(bins) + len(RESERVED_FILES) >= MAX_FILES:
            packed.left_out.append(f"{model.parent.name}'s weights (no file left of {MAX_FILES})")
        elif size > MAX_FILE_BYTES:
            packed.left_out.append(f"{model.parent.name}'s weights (over {MAX_FILE_BYTES // MIB} MiB alone)")
        else:
            if slot is None:
                bins.append([])
                sizes.append(2 * 512)
                slot = len(bins) - 1
            bins[slot].append(model)
            sizes[slot] += size
            room -= size
    for index, members in enumerate(bins, start=1):
        name = WEIGHTS.format(index=index)
        with tarfile.open(out / name, "w") as archive:
            for model in members:
                archive.add(model, arcname=str(model.relative_to(workdir)), recursive=False)
        packed.files[name] = (out / name).stat().st_size


def check(out: Path) -> list[str]:
    """How the folder `out` breaks the limits ([]: it keeps them)."""
    sizes = {path.name: path.stat().st_size for path in Path(out).iterdir()}
    problems = [f"{len(sizes)} files (at most {MAX_FILES})"] if len(sizes) > MAX_FILES else []
    problems += [
        f"{name}: {size / MIB:.1f} MiB (at most {MAX_FILE_BYTES // MIB})"
        for name, size in sizes.items()
        if size > MAX_FILE_BYTES
    ]
    if sum(sizes.values()) > MAX_TOTAL_BYTES:
        problems.append(f"{sum(sizes.values()) / MIB:.1f} MiB together (at most {MAX_TOTAL_BYTES // MIB})")
    return problems


def unpack(out: Path, into: Path) -> list[str]:
    """Extract a call's RESULTS and WEIGHTS from `out` into the folder `into`; the archives read."""
    found = []
    for name in [RESULTS, *sorted(p.name for p in Path(out).iterdir() if WEIGHTS_PATTERN.fullmatch(p.name))]:
        path = Path(out) / name
        if path.is_file():
            with tarfile.open(path) as archive:
                archive.extractall(into, filter="data")  # regular files under `into` only
            found.append(name)
    return found
