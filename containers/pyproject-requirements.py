"""Print the pip requirements of pyproject.toml, one per line.

Usage: python3 pyproject-requirements.py PYPROJECT [EXTRAS]

EXTRAS is a comma-separated list of optional-dependency groups to add.  The
"cpu" and "gpu" groups are skipped: the image gets TensorFlow from its own
TENSORFLOW build argument.  Used by containers/Containerfile (the project
package itself is not installed in the image, only its dependencies).
"""

import sys

import tomllib


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as fh:
        project = tomllib.load(fh)["project"]
    reqs = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    extras = argv[2] if len(argv) == 3 else ""
    for extra in filter(None, (e.strip() for e in extras.split(","))):
        if extra in ("cpu", "gpu"):
            continue
        if extra not in optional:
            print(f"unknown extra {extra!r}; pyproject.toml has {sorted(optional)}", file=sys.stderr)
            return 1
        reqs.extend(optional[extra])
    print("\n".join(reqs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
