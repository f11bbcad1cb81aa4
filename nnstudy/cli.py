"""The `nnstudy` command: tools around a study run (see README)."""

from __future__ import annotations

import importlib
import sys

USAGE = """usage: nnstudy COMMAND [options]

commands:
  status    how far each planned training run is, with ETA (--watch refreshes)
  publish   publish a finished run under docs/ with a generated README
  import    runs made elsewhere (a lent GPU's call, another study, a publication), into a study
  compare   does one study reproduce another? (results folders or publications, side by side)

`nnstudy COMMAND --help` for a command's options."""


# Each command's module in nnstudy.commands (`import` is a Python keyword).
MODULES = {"status": "status", "publish": "publish", "import": "import_runs", "compare": "compare"}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    if argv[0] not in MODULES:
        sys.exit(f"nnstudy: unknown command {argv[0]!r}\n{USAGE}")
    importlib.import_module(f"nnstudy.commands.{MODULES[argv[0]]}").main(argv[1:])  # imported here: each starts fast


if __name__ == "__main__":
    main()
