"""A messy image folder, an interrupted training, and the clear one-line errors they must give."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.helpers import (
    REPO,
    dvc,
    make_project,
    pipeline_env,
    ran_stages,
    set_param,
    write_digit_like_images,
)

pytestmark = pytest.mark.e2e

# Every kind of bad or awkward file a user's folder holds, and whether preprocess keeps it.
KEPT = ["cmyk.jpg", "wide16.tif", "animated.gif", "rotated.jpg", "palette.png", "rgba.webp"]
SKIPPED = ["notes.txt", "empty.png", "truncated.jpg", "huge.png", ".DS_Store", "Thumbs.db"]


def write_messy_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65536, size=(30, 30), dtype=np.uint16)).save(
        folder / "wide16.tif"
    )
    frames = [Image.fromarray(pixels[..., i]) for i in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees on display.
    Image.fromarray(pixels).save(folder / "rotated.jpg", exif=exif)
    Image.fromarray(pixels).convert("P").save(folder / "palette.png")
    Image.fromarray(pixels).convert("RGBA").save(folder / "rgba.webp")
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    Image.new("L", (300, 300)).save(folder / "huge.png")  # Over the test's data.max_pixels.
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")


@pytest.fixture(scope="module")
def messy_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    write_digit_like_images(root / "images/train", 24, seed=5)
    write_digit_like_images(root / "images/test", 8, seed=6)
    write_messy_files(root / "images/train/messy")
    return make_project(
        root / "project",
        root / "images",
        levels=[0.5],
        models=["dense"],
        data={"max_pixels": 50_000},
        train={"blind_models": ["dense"]},
        baselines={"methods": ["median"]},
    )


def test_messy_folder_runs_end_to_end_and_names_every_bad_file(messy_project):
    dvc(messy_project, "repro")
    manifest = yaml.safe_load((messy_project / "data/preprocessed/manifest.json").read_text())
    train = manifest["train"]
    listing = (messy_project / "data/preprocessed" / train["files"]).read_text().splitlines()
    assert {f"messy/{name}" for name in KEPT} <= {json.loads(line) for line in listing}
    assert train["count"] == 24 + len(KEPT)
    reasons = {entry["file"]: entry["reason"] for entry in train["skipped"]}
    assert set(reasons) == {f"messy/{name}" for name in SKIPPED}
    assert "data.max_pixels" in reasons["messy/huge.png"]
    scores = yaml.safe_load((messy_project / "metrics/compare/0.5.json").read_text())
    assert {"noisy", "dense", "dense-blind", "median"} <= set(scores)


def test_fail_policy_stops_at_the_first_bad_file_with_one_line(messy_project):
    set_param(messy_project, "data.on_error", "fail")
    result = subprocess.run(
        [sys.executable, "-m", "stages.preprocess", "--out-dir", "data/preprocessed"],
        cwd=messy_project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    set_param(messy_project, "data.on_error", "skip")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(errors) == 1
    # Files are read in sorted order, so the first bad one is messy/empty.png.
    assert "messy/empty.png" in errors[0] and "data.on_error" in errors[0]


def test_empty_split_is_a_clear_error(tmp_path):
    write_digit_like_images(tmp_path / "train", 4, seed=1)
    (tmp_path / "test").mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["dir"] = str(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stages.preprocess",
            "--params",
            str(tmp_path / "params.yaml"),
            "--out-dir",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'test'}: no readable image found" in result.stderr
    assert not (tmp_path / "out").exists()


def test_killed_training_leaves_nothing_partial_and_repro_recovers(messy_project):
    set_param(messy_project, "train.epochs", 300)
    process = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "train@dense-0.5"],
        cwd=messy_project,
        env=pipeline_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    loss_log = messy_project / "dvclive/train/dense/0.5/plots/metrics/train/loss.tsv"
    deadline = time.monotonic() + 120
    while not (loss_log.is_file() and len(loss_log.read_text().splitlines()) > 3):
        assert time.monotonic() < deadline and process.poll() is None, "training never started"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    model_dir = messy_project / "models/dense/0.5"
    assert not model_dir.exists(), "a killed training left a model behind"
    # 2 epochs: a value never trained before, so DVC cannot restore the model from its run cache.
    set_param(messy_project, "train.epochs", 2)
    assert "train@dense-0.5" in ran_stages(dvc(messy_project, "repro"))
    assert sorted(path.name for path in model_dir.iterdir()) == ["card.json", "model.keras"]
    leftovers = [path for path in messy_project.rglob("*.tmp*") if ".dvc" not in path.parts]
    assert leftovers == []
    assert "up to date" in dvc(messy_project, "status")
