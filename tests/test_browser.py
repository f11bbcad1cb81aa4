"""The HTML report in a real browser: headless Chromium, no network.

Chromium loads a copy of the report with a small probe script appended; on
`load` the probe writes what it found (images decoded, tables, sections) into
the DOM, which `--dump-dom` prints. A second call takes a screenshot. Set
NNSTUDY_SCREENSHOTS=DIR to keep the screenshots for a look.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from generated_study import SECTIONS, build_study, render_study

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
]

PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  var result = {
    images: images.length,
    broken: broken.map(function (img) { return img.alt; }),
    tables: Array.prototype.map.call(document.querySelectorAll("table"), function (t) {
      return {id: t.id, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0};
    }),
    sections: Array.prototype.map.call(document.querySelectorAll("section[id]"), function (s) { return s.id; }),
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    resources: performance.getEntriesByType("resource").map(function (r) { return r.name; })
  };
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium chromium-driver)")


def run_browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def probe(page: Path, tmp_path: Path) -> dict:
    """Load the page with the probe appended; the probe's findings."""
    probed = page.with_name(page.stem + "-probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_browser(
        tmp_path, "--virtual-time-budget=20000", "--window-size=1280,1000", "--dump-dom", probed.as_uri()
    ).stdout
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; the browser printed:\n{dom[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, tmp_path: Path, name: str, height: int) -> Path:
    target = Path(os.environ.get("NNSTUDY_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    run_browser(
        tmp_path, "--virtual-time-budget=20000", f"--window-size=1280,{height}", f"--screenshot={path}", page.as_uri()
    )
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, curve_plots):
    root = tmp_path_factory.mktemp("browser-study")
    files = build_study(
        root,
        curve_plots,
        relabel={
            "word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1": "<script>document.title='pwned'</script>"
        },
    )
    return render_study(root, files)


def test_report_in_headless_chromium(rendered, tmp_path):
    result = probe(rendered, tmp_path)
    assert result["images"] > 100
    assert result["broken"] == [], f"images that did not load: {result['broken']}"
    ids = {table["id"]: table["rows"] for table in result["tables"]}
    for table_id in (
        "table-a2",
        "table-a4",
        "table-b5",
        "table-b6",
        "table-a4-reference",
        "table-b5-reference",
        "table-b6-reference",
        "table-all-runs",
        "table-jobs",
    ):
        assert ids.get(table_id, 0) > 0, f"{table_id} missing or empty"
    assert set(SECTIONS) <= set(result["sections"])
    assert result["width"] <= 1280, "the page scrolls sideways"
    assert not [name for name in result["resources"] if not name.startswith("data:")], "the report fetched something"

    shot = screenshot(rendered, tmp_path, "report-top", 2400)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


def test_injected_label_does_not_run(rendered, tmp_path):
    dom = run_browser(tmp_path, "--virtual-time-budget=5000", "--dump-dom", rendered.as_uri()).stdout
    assert "<title>CE/CZ4042" in dom and "pwned" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title" in dom
