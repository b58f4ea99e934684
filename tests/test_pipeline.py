"""End to end: the real dvc.yaml, run by DVC on a tiny dataset with tiny params."""

import csv
import json
import re
import time

import pytest
import yaml

from conftest import dvc, make_project, ran_stages, run, set_param, write_digit_like_images

LEVELS = [0.3, 0.8]
MODELS = ["dense", "conv"]


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
    return {path.relative_to(project).as_posix(): path.read_bytes() for path in files}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The pipeline in a fresh repo, pointed at 48 + 16 tiny images."""
    root = tmp_path_factory.mktemp("e2e")
    write_digit_like_images(root / "images/train", 48, seed=3)
    write_digit_like_images(root / "images/test", 16, seed=4)
    return make_project(
        root / "project", root / "images", LEVELS, MODELS, visualize={"baselines": ["bm3d"]}
    )


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
            (project / f"logs/baselines/{level}_seconds_per_image.json").read_text()
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

    # What a repro would run first, without paying for it: `dvc status` lists exactly the stages
    # whose own deps or params changed; the ones after them rerun only if their inputs change.
    set_param(project, "train.epochs", 2)
    stale = set(json.loads(dvc(project, "status", "--json")))
    assert stale == {f"train@{model}-{level}" for model in MODELS for level in LEVELS}
    set_param(project, "train.epochs", 1)

    set_param(project, "models.conv.filters", [4])
    stale = set(json.loads(dvc(project, "status", "--json")))
    assert stale == {f"train@conv-{level}" for level in LEVELS}
    set_param(project, "models.conv.filters", [4, 4])
    assert "up to date" in dvc(project, "status")


def test_forced_rerun_gives_identical_bytes(project):
    dvc(project, "repro")
    before = outputs(project)
    # Per level: noisy 2; per model: denoised 2, model and card 2, metrics 1; baselines: subset,
    # 2 methods and their metrics 4; compare 1; figure 1. Plus preprocess 3 and the summary.
    assert len(before) == 3 + len(LEVELS) * (2 + len(MODELS) * 5 + 4 + 1 + 1) + 1
    dvc(project, "repro", "--force")
    assert outputs(project) == before


def commit_all(project):
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results", "--allow-empty"], project)


def test_queued_experiments_run_two_at_a_time(project):
    dvc(project, "repro")
    commit_all(project)
    for samples in (2, 5):
        dvc(project, "exp", "run", "--queue", "-S", f"visualize.n_samples={samples}")
    dvc(project, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 300
    while re.search(r"\b(Queued|Running)\b", status := dvc(project, "queue", "status")):
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert len(re.findall(r"\bSuccess\b", status)) == 2, status
    table = dvc(project, "exp", "show", "--csv", "--no-pager")
    rows = list(csv.DictReader(table.splitlines()))
    samples = {row["visualize.n_samples"] for row in rows if row["Experiment"]}
    assert {"2", "5"} <= samples, table


def test_remote_round_trip_restores_everything_without_retraining(project, tmp_path):
    dvc(project, "repro")
    dvc(project, "remote", "add", "--default", "store", str(tmp_path / "remote"))
    commit_all(project)
    dvc(project, "push")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / "models").exists(), "models come from the remote, not from git"
    dvc(clone, "pull")
    assert "up to date" in dvc(clone, "status")
    assert ran_stages(dvc(clone, "repro")) == set()
    model = f"models/conv/{LEVELS[0]}/model.keras"
    assert (clone / model).read_bytes() == (project / model).read_bytes()
