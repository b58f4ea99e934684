"""End to end: the real dvc.yaml, run by DVC on a tiny dataset with tiny params."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, write_digit_like_images

LEVELS = [0.3, 0.8]
MODELS = ["dense", "conv"]
PIPELINE_FILES = ["dvc.yaml", "params.yaml", ".gitignore", "stages", "denoising"]


def run(args, cwd):
    # The stages' "python" and DVC itself must be this interpreter's, wherever pytest runs from.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dvc(project, *args):
    return run([sys.executable, "-m", "dvc", *args], project)


def ran_stages(output):
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def set_param(project, dotted_key, value):
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    *sections, key = dotted_key.split(".")
    section = params
    for name in sections:
        section = section[name]
    section[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def outputs(project):
    """Every array, model, metrics file and figure the pipeline wrote, as bytes by path."""
    patterns = [
        "data/**/*.npy",
        "data/**/*.json",
        "models/**/*.*",
        "metrics/**/*.json",
        "plots/**/*.*",
    ]
    files = [path for pattern in patterns for path in project.glob(pattern) if path.is_file()]
    # Timings are the one output that measures the machine rather than the result.
    files = [path for path in files if path.name != "seconds_per_image.json"]
    return {path.relative_to(project).as_posix(): path.read_bytes() for path in files}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the pipeline in a fresh git + DVC repo, pointed at 48 + 16 tiny images."""
    root = tmp_path_factory.mktemp("e2e")
    data, project = root / "images", root / "project"
    write_digit_like_images(data / "train", 48, seed=3)
    write_digit_like_images(data / "test", 16, seed=4)
    project.mkdir()
    for name in PIPELINE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / name)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["dir"] = str(data)
    params["noise"]["levels"] = LEVELS
    params["train"].update(models=MODELS, epochs=1, batch_size=16)
    params["models"]["conv"].update(filters=[4, 4], batch_size=16)
    params["baselines"].update(methods=["median", "bm3d"], max_images=6, workers=2)
    params["visualize"]["n_samples"] = 3
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    dvc(project, "init", "-q")
    dvc(project, "config", "core.analytics", "false")
    # DVCLive reads the current commit, so the repo needs one.
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], project)
    return project


def test_pipeline_end_to_end(project):
    first = ran_stages(dvc(project, "repro"))
    assert {"preprocess", "summarize", "add_noise@0.3", "baselines@0.8"} <= first
    assert {f"train@{model}-{level}" for model in MODELS for level in LEVELS} <= first
    for level in LEVELS:
        for model in MODELS:
            metrics = yaml.safe_load(
                (project / f"metrics/denoise/{model}/{level}.json").read_text()
            )
            assert metrics["noise_level"] == level and metrics["test_images"] == 16
            assert {"psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised"} <= set(metrics)
            assert (project / f"models/{model}/{level}/card.json").is_file()
        scores = yaml.safe_load((project / f"metrics/compare/{level}.json").read_text())
        assert {"noisy", "median", "bm3d", *MODELS} <= set(scores) and scores["images"] == 6
        timing = yaml.safe_load(
            (project / f"data/baselines/{level}/seconds_per_image.json").read_text()
        )
        assert timing["bm3d"] > 0
        assert (project / f"plots/figures/{level}_noise.png").stat().st_size > 0
    with open(project / "plots/summary/quality_vs_noise.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(float(row["noise_level"]), row["method"]) for row in rows} == {
        (level, method) for level in LEVELS for method in ["noisy", "median", "bm3d", *MODELS]
    }

    assert "up to date" in dvc(project, "status")
    assert ran_stages(dvc(project, "repro")) == set()

    set_param(project, "visualize.n_samples", 4)
    assert ran_stages(dvc(project, "repro")) == {f"visualize@{level}" for level in LEVELS}

    set_param(project, "train.epochs", 2)
    rerun = ran_stages(dvc(project, "repro"))
    assert {f"train@{model}-{level}" for model in MODELS for level in LEVELS} <= rerun
    assert not any(name.startswith(("preprocess", "add_noise", "baselines")) for name in rerun)

    set_param(project, "models.conv.filters", [4])
    rerun = ran_stages(dvc(project, "repro"))
    assert {f"train@conv-{level}" for level in LEVELS} <= rerun
    assert not any(name.startswith(("train@dense", "denoise@dense")) for name in rerun)


def test_forced_rerun_gives_identical_bytes(project):
    dvc(project, "repro")
    before = outputs(project)
    # Per level: noisy 2; per model: denoised 2, model and card 2, metrics 1; baselines: subset,
    # 2 methods and their metrics 4; compare 1; figure 1. Plus preprocess 3 and the summary.
    assert len(before) == 3 + len(LEVELS) * (2 + len(MODELS) * 5 + 4 + 1 + 1) + 1
    dvc(project, "repro", "--force")
    assert outputs(project) == before
