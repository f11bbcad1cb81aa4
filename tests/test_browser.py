"""The HTML report in a real browser: headless Chromium, no network.

Chromium loads a copy of the report with a small probe script appended; on
`load` the probe opens every <details>, measures what a reader sees (images
decoded, tables and whether they fit, figures against their natural size,
headers, links) and writes it into the DOM, which `--dump-dom` prints. Set
NNSTUDY_SCREENSHOTS=DIR to keep screenshots for a look.

The report of a generated study (tests/generated_study.py) is checked, and
the published one (docs/paper-results/report.html), whatever it is: a report
made before the layout of nnstudy/report fails these checks until it is
rendered again.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import REPO
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
WIDTHS = (1400, 1000)
PUBLISHED = REPO / "docs/paper-results/report.html"
# The one table whose columns (every setting of every run) may scroll sideways, inside its own box.
SCROLLS = {"table-all-runs"}

PROBE = """
<script>
window.addEventListener("load", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var all = function (selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); };
  var images = all("img");
  var result = {
    images: images.length,
    broken: images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); })
      .map(function (img) { return img.alt; }),
    figures: all("figure img, .run-card img").map(function (img) {
      return {alt: img.alt, shown: img.getBoundingClientRect().width, natural: img.naturalWidth};
    }),
    tables: all("table").map(function (t) {
      var wrap = t.closest(".table-wrap") || t.parentElement;
      var box = wrap.getBoundingClientRect();
      return {
        id: t.id,
        rows: t.tBodies.length ? t.tBodies[0].rows.length : 0,
        fits: wrap.scrollWidth <= wrap.clientWidth,
        hidden: Array.prototype.filter.call(t.tHead ? t.tHead.querySelectorAll("th") : [], function (th) {
          var r = th.getBoundingClientRect();
          return r.right > box.right + 0.5 || th.scrollWidth > th.clientWidth + 1 || r.width === 0;
        }).map(function (th) { return th.textContent; })
      };
    }),
    sections: all("section[id]").map(function (s) { return s.id; }),
    ids: all("[id]").map(function (e) { return e.id; }),
    links: all("a[href]").map(function (a) { return a.getAttribute("href"); })
      .filter(function (href) { return href.slice(0, 5) !== "data:"; }),
    width: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
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
        timeout=180,
        check=True,
    )


def probe(page: Path, tmp_path: Path, width: int = 1400) -> dict:
    """Load a copy of the page with the probe appended at this window width;
    its findings (its links are checked against the page's own folder)."""
    probed = tmp_path / f"{page.stem}-probed-{width}.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_browser(
        tmp_path, "--virtual-time-budget=20000", f"--window-size={width},1000", "--dump-dom", probed.as_uri()
    ).stdout
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; the browser printed:\n{dom[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, tmp_path: Path, name: str, width: int, height: int) -> Path:
    target = Path(os.environ.get("NNSTUDY_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    run_browser(
        tmp_path,
        "--virtual-time-budget=20000",
        f"--window-size={width},{height}",
        f"--screenshot={path}",
        page.as_uri(),
    )
    return path


def layout_problems(result: dict, page: Path, width: int) -> list[str]:
    """What a reader at this width would not see, or would follow to nothing."""
    problems = []
    if result["width"] > result["client"]:
        problems.append(f"the page scrolls sideways ({result['width']} px in {result['client']})")
    for table in result["tables"]:
        if not table["fits"] and table["id"] not in SCROLLS:
            problems.append(f"{table['id'] or 'a table'} does not fit: it scrolls sideways")
        if table["hidden"] and table["id"] not in SCROLLS:
            problems.append(f"{table['id']}: headers cut or hidden: {table['hidden']}")
    if width >= 1400:  # narrower windows may scale figures down; at 1400 px they keep their text size
        for figure in result["figures"]:
            if figure["shown"] < 0.85 * figure["natural"]:
                problems.append(f"{figure['alt']}: shown {figure['shown']:.0f} px of its {figure['natural']} px")
    ids = set(result["ids"])
    for link in result["links"]:
        if link.startswith("#"):
            if link[1:] not in ids:
                problems.append(f"link {link}: no such section")
        elif not re.match(r"[a-z]+:", link) and not (page.parent / unquote(link.split("#")[0])).exists():
            problems.append(f"link {link}: no such file beside the report")
    return problems


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
    return render_study(root, files, explanations=REPO / "docs/paper-results/explanations.yaml")


@pytest.mark.parametrize("width", WIDTHS)
def test_report_in_headless_chromium(rendered, tmp_path, width):
    result = probe(rendered, tmp_path, width)
    assert result["images"] > 100
    assert result["broken"] == [], f"images that did not load: {result['broken']}"
    ids = {table["id"]: table["rows"] for table in result["tables"]}
    for question in ("a2", "a4", "b5", "b6", "masking", "a4-reference", "b5-reference", "b6-reference", "all-runs"):
        assert ids.get(f"table-{question}", 0) > 0, f"table-{question} missing or empty"
    assert ids.get("table-jobs", 0) > 0
    assert set(SECTIONS) <= set(result["sections"])
    assert layout_problems(result, rendered, width) == []
    assert not [name for name in result["resources"] if not name.startswith("data:")], "the report fetched something"

    shot = screenshot(rendered, tmp_path, f"report-top-{width}", width, 2400)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, width)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


@pytest.mark.parametrize("width", WIDTHS)
def test_published_report_in_headless_chromium(tmp_path, width):
    """docs/paper-results/report.html as a reader of the published folder sees it."""
    if not PUBLISHED.is_file():
        pytest.skip(f"{PUBLISHED} not published")
    result = probe(PUBLISHED, tmp_path, width)
    assert result["broken"] == [], f"images that did not load: {result['broken']}"
    assert layout_problems(result, PUBLISHED, width) == []
    assert not [name for name in result["resources"] if not name.startswith("data:")], "the report fetched something"


def test_injected_label_does_not_run(rendered, tmp_path):
    dom = run_browser(tmp_path, "--virtual-time-budget=5000", "--dump-dom", rendered.as_uri()).stdout
    assert "<title>CE/CZ4042" in dom and "pwned" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title" in dom
