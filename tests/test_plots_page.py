"""`dvc plots show` and `dvc plots diff` pages render every chart and image with no network,
checked in headless Chromium as a person would see them."""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, dvc, run

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "")
# The committed plot inputs and everything `dvc plots` reads to draw them.
PLOT_FILES = [
    "dvc.yaml",
    "params.yaml",
    ".dvc/config",
    ".dvc/plots",
    "dvc_plots/vendor",
    "plots",
    "dvclive",
    "metrics",
]
SCREENSHOTS = REPO / "test-artifacts"


def browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM and sync_playwright:
        return sync_playwright
    reason = "needs Chromium (apt-get install chromium) and playwright (pip)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git + DVC repo holding a copy of the committed plot inputs."""
    project = tmp_path_factory.mktemp("plots")
    for name in PLOT_FILES:
        source, target = REPO / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "plots"], project)
    return project


def render(page_path: Path, screenshot: Path) -> dict:
    """Open the page in Chromium with every request outside its folder blocked and recorded."""
    sync_playwright = browser_or_skip()
    folder = page_path.parent.resolve().as_uri() + "/"
    outside, errors = [], []
    report = {"scripts": page_path.read_text().count("vegaEmbed(")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def guard(route):
            if route.request.url.startswith(folder):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.goto(page_path.resolve().as_uri(), wait_until="networkidle")
        page.wait_for_function(ALL_EMBEDS_DRAWN, arg=report["scripts"], timeout=30_000)
        report.update(page.evaluate(COUNT_MARKS))
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    return {**report, "outside": outside, "errors": errors}


# DVC writes, per chart, a div holding a script that calls vegaEmbed; vega-embed then replaces
# the script with a chart drawn on a canvas, asynchronously.
ALL_EMBEDS_DRAWN = """expected =>
  document.querySelectorAll('.vega-embed canvas').length >= expected
  && [...document.images].every(image => image.complete)"""

# For each chart: its size, and how many coloured pixels it drew. Axes and text are grey, so
# coloured pixels are the lines and points themselves.
COUNT_MARKS = """() => ({
  charts: [...document.querySelectorAll('.vega-embed')].map(embed => {
    const canvas = embed.querySelector('canvas');
    if (!canvas) return {width: 0, coloured: embed.querySelectorAll('svg path').length};
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
      if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
    }
    return {width: canvas.width, coloured};
  }),
  images: [...document.images].map(image => image.naturalWidth),
})"""


def check(report, n_charts, n_images):
    assert report["scripts"] == len(report["charts"]) == n_charts
    for chart in report["charts"]:
        assert chart["coloured"] > 50, f"a chart drew no marks: {chart}"
    assert len(report["images"]) == n_images and all(width > 0 for width in report["images"])
    assert report["outside"] == [], "the page asked for something outside its folder"
    assert report["errors"] == []


def expected_counts(project):
    # PSNR and SSIM, and one loss chart per model and level (training and validation in it).
    charts = 2 + len(list((project / "plots/loss").glob("*/*.csv")))
    return charts, len(list((project / "plots/figures").glob("*.png")))


def test_plots_show_renders_offline(project):
    dvc(project, "plots", "show")
    report = render(project / "dvc_plots/index.html", SCREENSHOTS / "plots-show.png")
    check(report, *expected_counts(project))
    # Each loss chart is titled by model and level, and holds both curves.
    page = (project / "dvc_plots/index.html").read_text()
    losses = sorted((project / "plots/loss").glob("*/*.csv"))
    assert losses
    for path in losses:
        assert f"{path.parent.name} @ {path.stem}: loss" in page
    for curve in ("training", "validation"):
        assert len(re.findall(rf'"curve": ?"{curve}"', page)) >= len(losses) * 2


def test_plots_diff_renders_offline(project):
    summary = project / "plots/summary/quality_vs_noise.csv"
    lines = summary.read_text().splitlines()
    header = lines[0].split(",")
    psnr = header.index("psnr")
    changed = [lines[0]] + [
        ",".join(str(float(v) + 1) if i == psnr else v for i, v in enumerate(line.split(",")))
        for line in lines[1:]
    ]
    summary.write_text("\n".join(changed) + "\n")
    dvc(project, "plots", "diff", "HEAD")
    report = render(project / "dvc_plots/index.html", SCREENSHOTS / "plots-diff.png")
    charts, images = expected_counts(project)
    check(report, charts, 2 * images)  # Each figure once per revision.
