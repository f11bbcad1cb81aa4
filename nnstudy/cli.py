"""The `nnstudy` command: tools around a study run (see README)."""

from __future__ import annotations

import sys

USAGE = """usage: nnstudy COMMAND [options]

commands:
  status    how far each planned training run is, with ETA (--watch refreshes)
  publish   publish a finished run under docs/ with a generated README

`nnstudy COMMAND --help` for a command's options."""


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    if argv[0] == "status":
        from nnstudy import status

        status.main(argv[1:])
    elif argv[0] == "publish":
        from nnstudy import publish

        publish.main(argv[1:])
    else:
        sys.exit(f"nnstudy: unknown command {argv[0]!r}\n{USAGE}")


if __name__ == "__main__":
    main()
