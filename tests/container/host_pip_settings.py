"""Collect the host's pip *index* settings for a container build.

Usage: python3 host_pip_settings.py OUT_PIP_CONF

Reads pip's configuration the way pip does (global files, user files, the
active virtualenv's pip.conf, $PIP_CONFIG_FILE, then PIP_* environment
variables; [global] then [install]) and keeps only what decides where packages
come from: index-url, extra-index-url, find-links, trusted-host, timeout.
Certificates are not copied (the build gets the CA bundle as a secret) and
neither are constraints or other local policy.

Writes OUT_PIP_CONF (a pip.conf, handed to the build as a secret so that
credentials in URLs never reach the image) and prints, one per line, the host
directories that local (file:// or path) indexes and find-links need; the
caller bind-mounts them read-only at the same path.  Local entries whose
directory does not exist are dropped with a warning on stderr.
"""

import configparser
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "timeout")
ENV = {
    "index-url": "PIP_INDEX_URL",
    "extra-index-url": "PIP_EXTRA_INDEX_URL",
    "find-links": "PIP_FIND_LINKS",
    "trusted-host": "PIP_TRUSTED_HOST",
    "timeout": "PIP_DEFAULT_TIMEOUT",
}
MULTI = {"extra-index-url", "find-links", "trusted-host"}


def config_files() -> list[Path]:
    if os.environ.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files.append(Path("/etc/pip.conf"))
    home = Path.home()
    files.append(home / ".pip" / "pip.conf")
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files.append(Path(xdg_home) / "pip" / "pip.conf")
    if os.environ.get("VIRTUAL_ENV"):
        files.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return files


def collect() -> dict[str, str]:
    settings: dict[str, str] = {}
    for path in config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error as exc:
            print(f"warning: cannot parse {path}: {exc}", file=sys.stderr)
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in KEYS:
                    if parser.has_option(section, key):
                        settings[key] = parser.get(section, key)
    for key, var in ENV.items():
        value = os.environ.get(var) or (os.environ.get("PIP_TIMEOUT") if key == "timeout" else None)
        if value:
            settings[key] = value
    return settings


def local_dir(entry: str) -> Path | None:
    """Directory to mount for a file:// URL or path, None for remote URLs."""
    if entry.startswith("file:"):
        path = Path(unquote(urlparse(entry).path))
    elif entry.startswith("/"):
        path = Path(entry)
    else:
        return None
    if path.is_file():
        path = path.parent
    # A PEP 503 "simple" index usually links to ../../files/...: mount its parent.
    if path.name == "simple":
        path = path.parent
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    settings = collect()
    mounts: list[str] = []
    lines = ["[global]"]
    for key in KEYS:
        if key not in settings:
            continue
        values = settings[key].split() if key in MULTI else [settings[key].strip()]
        kept = []
        for value in values:
            if key in ("index-url", "extra-index-url", "find-links"):
                directory = local_dir(value)
                if directory is not None:
                    if not directory.is_dir():
                        print(f"note: host pip {key} {value} does not exist; not passed to the build", file=sys.stderr)
                        continue
                    if str(directory) not in mounts:
                        mounts.append(str(directory))
            kept.append(value)
        if kept:
            lines.append(f"{key} = " + " ".join(kept))
    Path(argv[1]).write_text("\n".join(lines) + "\n")
    for directory in mounts:
        print(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
