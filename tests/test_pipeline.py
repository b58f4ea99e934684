"""End to end: the real dvc.yaml, run by DVC on a tiny dataset with tiny params."""

import csv
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from tests.helpers import (
    dvc,
    make_project,
    pipeline_env,
    ran_stages,
    run,
    set_param,
    write_digit_like_images,
)

pytestmark = pytest.mark.e2e

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


def repro_log(project, *args):
    """Run ``dvc repro``; its return code and everything it and the stages printed."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", *args],
        cwd=project,
        env=pipeline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


def test_pipeline_end_to_end(project):
    code, log = repro_log(project)
    assert code == 0, log
    first = ran_stages(log)
    assert {"check_params", "preprocess", "summarize", "add_noise@0.3", "baselines@0.8"} <= first
    # TensorFlow's C++ log lines (W0000/E0000 ..., cuInit on a CPU machine) look like failures.
    assert not re.search(r"^[WE]\d{4} |cuInit|oneDNN", log, re.MULTILINE), log
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

    # The summary, not every stage's metrics: `dvc metrics show` is a row per method (and one
    # of the best), a column per level.
    shown = dvc(project, "metrics", "show").splitlines()
    methods = sorted(["best", "noisy", "median", "bm3d", *MODELS])
    rows = [line.split()[0] for line in shown[1:]]
    assert rows == [f"metrics/summary/{m}.json" for m in methods]
    levels = [str(level) for level in LEVELS]
    columns = [f"best.{at}" for at in levels] + [f"psnr.{at}" for at in levels]
    assert shown[0].split() == ["Path", *columns, *[f"ssim.{at}" for at in levels], "test_images"]
    summary = json.loads((project / "metrics/summary/best.json").read_text())
    assert set(summary["best"]) == set(levels) and summary["test_images"] == 6
    assert set(summary["best"].values()) <= {"median", "bm3d", *MODELS}

    assert "up to date" in dvc(project, "status")
    assert ran_stages(dvc(project, "repro")) == set()

    # Every edit of params.yaml reruns check_params, which writes the same bytes, so only the
    # stages that read the changed key rerun after it.
    set_param(project, "visualize.n_samples", 4)
    visualize = {f"visualize@{level}" for level in LEVELS}
    assert ran_stages(dvc(project, "repro")) == {"check_params", *visualize}

    # What a repro would run first, without paying for it: `dvc status` lists exactly the stages
    # whose own deps or params changed; the ones after them rerun only if their inputs change.
    set_param(project, "train.epochs", 2)
    stale = set(json.loads(dvc(project, "status", "--json")))
    train = {f"train@{model}-{level}" for model in MODELS for level in LEVELS}
    assert stale == {"check_params", *train}
    set_param(project, "train.epochs", 1)

    set_param(project, "models.conv.filters", [4])
    stale = set(json.loads(dvc(project, "status", "--json")))
    assert stale == {"check_params", *(f"train@conv-{level}" for level in LEVELS)}
    set_param(project, "models.conv.filters", [4, 4])
    assert "up to date" in dvc(project, "status")


def test_new_outputs_at_one_level_make_only_that_level_stale(project):
    dvc(project, "repro")
    level = LEVELS[0]
    # What a retrained model at one level does downstream: new denoised images at that level.
    path = project / f"data/denoised/{level}/conv/test.npy"
    np.save(path, np.load(path) * np.float32(0.5))
    stale = set(json.loads(dvc(project, "status", "--json")))
    assert stale == {f"denoise@conv-{level}", f"compare@{level}", f"visualize@{level}"}
    dvc(project, "checkout", "--force", f"denoise@conv-{level}")
    assert "up to date" in dvc(project, "status")


def test_an_unknown_key_stops_repro_and_exp_run_before_anything_runs(project):
    dvc(project, "repro")
    commit_all(project)
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(
        text.replace("  epochs: 1\n", "  epochs: 1\n  epoch: 30\n")
    )
    code, log = repro_log(project)
    (project / "params.yaml").write_text(text)
    assert code != 0 and ran_stages(log) == {"check_params"}
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "train.epoch: unknown key" in errors[0], log
    assert "Traceback" not in log

    result = subprocess.run(
        [sys.executable, "-m", "dvc", "exp", "run", "-S", "+train.epoch=30"],
        cwd=project,
        env=pipeline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    (project / "params.yaml").write_text(text)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and ran_stages(output) == {"check_params"}, output
    assert "train.epoch: unknown key" in output
    # The valid file back: check_params reruns, writes the same bytes, and nothing else runs.
    assert ran_stages(dvc(project, "repro")) <= {"check_params"}
    assert "up to date" in dvc(project, "status")


def test_forced_rerun_gives_identical_bytes(project):
    dvc(project, "repro")
    before = outputs(project)
    # Per level: noisy 2; per model: denoised 2, model and card 2, metrics 1, loss chart 1;
    # baselines: subset, 2 methods and their metrics 4; compare 1; figure 1. Plus preprocess 3,
    # the summary's plot data, and its metrics: the noisy input, 2 baselines, the models, best.
    summary = 1 + 1 + 2 + len(MODELS) + 1
    assert len(before) == 3 + len(LEVELS) * (2 + len(MODELS) * 6 + 4 + 1 + 1) + summary
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
