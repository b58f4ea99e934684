"""Every benchmark parses its arguments (``--help`` prints usage and does nothing else) and runs
in its smallest mode, on tiny data, in a temporary copy of the pipeline: the workspace it is
run from is left as it was."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, pipeline_env, write_digit_like_images

BENCHES = sorted(path.name for path in (REPO / "bench").glob("*.py") if path.name != "project.py")


def bench(name: str, *args, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, REPO / "bench" / name, *map(str, args)],
        cwd=REPO,
        env=pipeline_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def workspace_state() -> str:
    """What git sees in the workspace, ignored files included: a bench must change none."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout


def test_every_bench_is_tested_here():
    assert set(BENCHES) == set(SMALLEST)


@pytest.mark.parametrize("name", BENCHES)
def test_help_prints_usage_and_does_nothing_else(name):
    before = workspace_state()
    done = bench(name, "--help", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and done.stderr == ""
    assert workspace_state() == before


def digits(root: Path) -> Path:
    write_digit_like_images(root / "train", 12, seed=1)
    write_digit_like_images(root / "test", 4, seed=2)
    return root


def photos(root: Path) -> Path:
    """Grey "photos" of 96x96 and 136x128: smooth shapes with edges, for the patch recipes."""
    rng = np.random.default_rng(0)
    for split, count, (height, width) in (("train", 3, (96, 96)), ("test", 2, (128, 136))):
        (root / split).mkdir(parents=True)
        rows, cols = np.mgrid[0:height, 0:width]
        for index in range(count):
            centre = rng.uniform(20, 60, size=2)
            pixels = 60 + 120 * (np.hypot(rows - centre[0], cols - centre[1]) < 25) + cols
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(
                root / split / f"{index}.png"
            )
    return root


TINY_DRUNET = ["-S", "models.drunet.widths=[8, 8, 8, 8]", "-S", "models.drunet.blocks=1"]
# Each bench's smallest mode: its arguments, given the tiny data folders, and a line of its
# output that says it reached its table.
SMALLEST = {
    "bundled.py": (
        lambda d, p, w: ["--gray-data", p / "test", "--sigma", 25, "--max-images", 1],
        "grey, sigma 25",
    ),
    "denoise_memory.py": (lambda d, p, w: ["--megapixels", 0.01, "--work", w], "megapixels"),
    "noise.py": (lambda d, p, w: ["--data", d, "--epochs", 1, "--levels", 0.5], "blind conv"),
    "photos.py": (
        lambda d, p, w: [p, "--sigma", 25, "--epochs", 1, *TINY_DRUNET],
        "sigma 25 (0-255 scale)",
    ),
    "quality.py": (
        lambda d, p, w: (
            ["--data", d, "--epochs", 1, "--models", "conv", "--blind-models"] + ["--levels", 0.5]
        ),
        "noise level 0.5",
    ),
    "scale.py": (
        lambda d, p, w: ["--images", 4, "--side", 32, "--trials", 0],
        "the same bytes: True",
    ),
    "self_supervised.py": (
        lambda d, p, w: ["--photos", p, "--epochs", 1, "--only", "ne2ne"],
        "full Set12 images",
    ),
    "speed.py": (lambda d, p, w: ["--n", 10, "--rounds", 1, "--quick", "--keep", w], "peak RSS"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("name", BENCHES)
def test_smallest_mode_runs_and_leaves_the_workspace_as_it_was(name, tmp_path):
    arguments, reached = SMALLEST[name]
    data, photo_dir = digits(tmp_path / "digits"), photos(tmp_path / "photos")
    before = workspace_state()
    # Generous: speed.py's smoke run starts TensorFlow some 20 times (2 minutes on 2 idle cores).
    done = bench(name, *arguments(data, photo_dir, tmp_path / "work"), timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert reached in done.stdout, done.stdout[-2000:]
    assert workspace_state() == before


@pytest.mark.e2e
def test_the_self_supervised_bench_runs_the_real_noise_route(tmp_path):
    """--real: the photos taken as real noisy images (they clip at white), their test images as
    their own references; n2v2 learns from them, and the table gives the PSNR before the
    correction that the clipping asked for."""
    import shutil

    data = photos(tmp_path / "real")
    shutil.copytree(data / "test", data / "test_clean")
    before = workspace_state()
    done = bench("self_supervised.py", "--real", data, "--epochs", 1, "--only", "n2v2")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "level real, real noise" in done.stdout and "told the estimated sigma" in done.stdout
    row = next(
        line for line in done.stdout.splitlines() if line.startswith("n2v2 ") and "min," in line
    )
    assert len(row.split()) >= 5 and row.split()[3] != "-", row  # the uncorrected PSNR
    assert workspace_state() == before


@pytest.mark.e2e
def test_the_self_supervised_bench_puts_clipped_and_unclipped_side_by_side(tmp_path):
    data = digits(tmp_path / "digits")
    before = workspace_state()
    arguments = ["--data", data, "--both", "--level", 0.5, "--epochs", 1, "--only", "n2v2"]
    done = bench("self_supervised.py", *arguments)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    table = done.stdout.split("before it in brackets); fit minutes")[1].splitlines()
    assert table[1].split() == ["target", "0.5", "unclipped", "0.5", "clipped"]
    n2v2 = table[2].split()
    # Both corrected (clipped noise, and unclipped under binary cross-entropy, which clips the
    # targets): a PSNR, the uncorrected one, and minutes, each.
    assert n2v2[0] == "n2v2" and len(n2v2) == 7, n2v2
    assert n2v2[2].startswith("(") and n2v2[5].startswith("("), n2v2
    assert [row.split()[0] for row in table[3:5]] == ["median", "bm3d"]
    assert workspace_state() == before
