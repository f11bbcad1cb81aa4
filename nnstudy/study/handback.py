"""What a call on a lent GPU machine hands back, and reading it back into a study (`nnstudy import`).

A call brings back at most 8 files of at most 15 MiB each, 60 MiB together (DEVICE: the device's 8 files of
16 MiB, 64 MiB in all, with a margin). `pack` fills its output folder with

- RESULTS (results.tgz): every file of the workflow folder the study needs back but the weights: each run's
  metrics.json and curves, optimum.json, logs, benchmarks, the resume histories and pack manifests of runs
  not finished (how far they got) and the call's own record (CALL_FOLDER: configs, summary.json);
- WEIGHTS (weights-1.tar, …): the runs' model.keras files as far as they fit, the first named first (A1's,
  for its feature maps), then the smallest; tars, not compressed: a .keras file is a zip already;
- room for the call's own log and summary (RESERVED_FILES).

and says what it left out and why. The limits are checked again on the folder as it is at the end (`check`).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MIB = 2**20
RESERVED_FILES = ("run.log", "summary.txt")  # written by the call around `pack`: its log and its summary
RESULTS = "results.tgz"
WEIGHTS = "weights-{index}.tar"
WEIGHTS_PATTERN = re.compile(r"weights-\d+\.tar")
# The call's own files inside RESULTS (bench/gpu_part_a.py writes them there).
CALL_FOLDER = ".gpu-part-a"
MODEL_FILE = "model.keras"
# A tar's bytes at most beyond its members' own: per member its headers (ustar, and pax for its time) and
# padding; per archive its end, padded to a whole record.
TAR_MEMBER_BYTES = 4 * 512
TAR_BASE_BYTES = 2 * 512 + tarfile.RECORDSIZE


@dataclass(frozen=True)
class Limits:
    """What comes back from a call: files, bytes per file and together, and the bytes kept for RESERVED_FILES."""

    files: int
    file_bytes: int
    total_bytes: int
    reserved_bytes: int

    def __str__(self) -> str:
        mib = lambda size: f"{size / MIB:g} MiB"  # noqa: E731
        return f"{self.files} files of at most {mib(self.file_bytes)}, {mib(self.total_bytes)} together"


DEVICE = Limits(files=8, file_bytes=15 * MIB, total_bytes=60 * MIB, reserved_bytes=1 * MIB)


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


def pack(workdir: Path, out: Path, weights_first: list[str] = (), limits: Limits = DEVICE) -> Packed:
    """Write RESULTS and WEIGHTS for the workflow folder `workdir` into `out` (see the module's docstring).

    weights_first: run folders whose model goes first (A1's). RESULTS leaves out its least needed groups
    while it would be over the limit of a file; the weights fill what is left of the files and bytes.
    """
    workdir, out = Path(workdir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    packed = Packed()
    groups = results_groups(workdir)
    while True:
        data = _tgz(workdir, [path for _, paths in groups for path in paths])
        if len(data) <= limits.file_bytes or len(groups) == 1:
            break
        what, paths = groups.pop()
        packed.left_out.append(f"{what}, {len(paths)} files ({RESULTS} would be over {limits.file_bytes / MIB:g} MiB)")
    if len(data) > limits.file_bytes:
        packed.left_out.append(f"{RESULTS} ({len(data) / MIB:.1f} MiB of metrics alone: over the limit)")
    else:
        (out / RESULTS).write_bytes(data)
        packed.files[RESULTS] = len(data)
    _pack_weights(workdir, out, weights_first, limits, packed)
    return packed


def _pack_weights(workdir: Path, out: Path, first: list[str], limits: Limits, packed: Packed) -> None:
    """Models into tars of at most a file's limit while files and bytes are left: `first` first, then the
    smallest (the most runs)."""
    order = {folder: index for index, folder in enumerate(first)}
    models = sorted(
        workdir.glob(f"results/*/runs/*/{MODEL_FILE}"),
        key=lambda path: (order.get(str(path.parent.relative_to(workdir)), len(order)), path.stat().st_size, path),
    )
    room = limits.total_bytes - limits.reserved_bytes - sum(packed.files.values())
    bins: list[list[Path]] = []
    sizes: list[int] = []
    for model in models:
        size = model.stat().st_size + TAR_MEMBER_BYTES
        slot = next((i for i, used in enumerate(sizes) if used + size <= limits.file_bytes), None)
        opening = TAR_BASE_BYTES if slot is None else 0
        if size + opening > room:
            packed.left_out.append(f"{model.parent.name}'s weights (over {limits.total_bytes / MIB:g} MiB together)")
        elif slot is None and len(packed.files) + len(bins) + len(RESERVED_FILES) >= limits.files:
            packed.left_out.append(f"{model.parent.name}'s weights (no file left of {limits.files})")
        elif size + TAR_BASE_BYTES > limits.file_bytes:
            packed.left_out.append(f"{model.parent.name}'s weights (over {limits.file_bytes / MIB:g} MiB alone)")
        else:
            if slot is None:
                bins.append([])
                sizes.append(TAR_BASE_BYTES)
                slot = len(bins) - 1
            bins[slot].append(model)
            sizes[slot] += size
            room -= size + opening
    for index, members in enumerate(bins, start=1):
        name = WEIGHTS.format(index=index)
        with tarfile.open(out / name, "w") as archive:
            for model in members:
                archive.add(model, arcname=str(model.relative_to(workdir)), recursive=False)
        packed.files[name] = (out / name).stat().st_size


def check(out: Path, limits: Limits = DEVICE) -> list[str]:
    """How the folder `out` breaks the limits ([]: it keeps them)."""
    sizes = {path.name: path.stat().st_size for path in Path(out).iterdir()}
    problems = [f"{len(sizes)} files (at most {limits.files})"] if len(sizes) > limits.files else []
    problems += [
        f"{name}: {size / MIB:.2f} MiB (at most {limits.file_bytes / MIB:g})"
        for name, size in sizes.items()
        if size > limits.file_bytes
    ]
    if sum(sizes.values()) > limits.total_bytes:
        problems.append(f"{sum(sizes.values()) / MIB:.2f} MiB together (at most {limits.total_bytes / MIB:g})")
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
