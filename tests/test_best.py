"""python -m denoising.experiments.best: experiments ranked by test PSNR with the params they
changed, and a 2x2 grid run through DVC's queue, ranked, and the best applied."""

import shlex
import subprocess
import sys
import time

import pytest
import yaml

from denoising.experiments.best import rank, score, table
from tests.helpers import REPO, dvc, make_project, pipeline_env, write_digit_like_images

# params.yaml's keys, dotted, as denoising.experiments.best reads them.
SECTIONS = {"train.learning_rate", "models.conv.filters", "noise.levels"}


def row(typ, name, psnr, **params):
    """A `dvc exp show` row as dvc.api.exp_show gives it."""
    values = {"Experiment": name, "rev": name[:7], "typ": typ, "State": None}
    for level, methods in psnr.items():
        for method, value in methods.items():
            values[f"metrics/summary/{method}.json:psnr.{level}"] = value
    return values | params


ROWS = [
    row(
        "baseline",
        "main",
        {"0.5": {"noisy": 9.0, "conv": 17.0, "median": 14.0}},
        **{"train.learning_rate": 0.001, "models.conv.filters": [4, 4], "data/x": "abc"},
        models="d41d8cd.dir",  # A dependency named like a params section.
    ),
    row(
        "branch_commit",
        "lr-high",
        {"0.5": {"noisy": 9.0, "conv": 18.5, "median": 14.0}},
        **{"train.learning_rate": 0.01, "models.conv.filters": [4, 4], "data/x": "abd"},
        models="e41d8cd.dir",
    ),
    row(
        "branch_commit",
        "wide",
        {"0.5": {"noisy": 9.0, "conv": 13.0, "median": 14.5}},
        **{"train.learning_rate": 0.001, "models.conv.filters": [8, 8], "data/x": "abe"},
    ),
    row("branch_commit", "failed", {}, **{"train.learning_rate": 0.1}),
]


def test_experiments_rank_by_their_best_methods_psnr_with_what_they_changed():
    ranked = rank(ROWS, SECTIONS, level="0.5")
    assert [r.name for r in ranked] == ["lr-high", "main", "wide", "failed"]
    # The trained model's PSNR: the median filter, better in "wide", is no trained model.
    assert [r.score for r in ranked] == [18.5, 17.0, 13.0, None]
    assert ranked[0].changed == {"train.learning_rate": 0.01}  # Deps' hashes are no params.
    assert ranked[2].method == "conv" and ranked[2].changed == {"models.conv.filters": [8, 8]}
    assert rank(ROWS, SECTIONS, "0.5", "median")[0].name == "wide"
    text = table(ranked, "0.5")
    assert text.splitlines()[2].split()[:3] == ["1", "18.50", "lr-high"]
    assert "train.learning_rate=0.01" in text and text.splitlines()[-1].startswith("   -")
    assert "models.conv.filters=[8, 8]" in text
    floated = rank([ROWS[0], {**ROWS[1], "models.conv.batch_size": 64.0}], SECTIONS, "0.5")
    assert "models.conv.batch_size=64 " in table(floated, "0.5") + " "


def test_a_tune_workers_experiment_names_its_worker():
    ranked = rank(ROWS, SECTIONS, "0.5", ran_by={"lr-high": "box-2:4711"})
    assert ranked[0].label == "lr-high (on box-2:4711)" and ranked[1].label == "main (baseline)"
    assert "lr-high (on box-2:4711) [conv]" in table(ranked, "0.5")


def test_a_named_method_and_the_mean_over_levels():
    two = row(
        "branch_commit",
        "x",
        {"0.3": {"conv": 20.0, "unet": 20.5, "bm3d": 21.0}, "0.5": {"conv": 16.0}},
    )
    assert score(two, None, "conv") == (18.0, "conv")
    assert score(two, "0.3", None) == (20.5, "unet")
    assert score(two, None, None) == (18.25, "conv/unet")
    assert score(two, "0.8", None) == (None, "-")
    assert score(two, None, "bm3d") == (None, "bm3d")  # No bm3d at 0.5: not comparable.


@pytest.mark.e2e
def test_a_grid_through_the_queue_is_ranked_the_best_applied_and_tuned(tmp_path):
    """The 2x2 grid of the docs through DVC's queue; the ranking lists the 4 runs in PSNR order;
    --apply puts the best one's params in the workspace; a 2-trial Optuna search runs as DVC
    experiments and names its best."""
    write_digit_like_images(tmp_path / "data/train", 48, seed=11)
    write_digit_like_images(tmp_path / "data/test", 12, seed=12)
    project = make_project(
        tmp_path / "project",
        tmp_path / "data",
        [0.5],
        ["conv"],
        train={"epochs": 2},
        baselines={"methods": ["median"]},
    )
    dvc(project, "repro")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the baseline's results")
    grid = ["-S", "train.learning_rate=0.001,0.01", "-S", "models.conv.filters=[4,4],[8,8]"]
    dvc(project, "exp", "run", "--queue", *grid)
    dvc(project, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    while any(word in dvc(project, "queue", "status") for word in ("Queued", "Running")):
        assert time.monotonic() < deadline, dvc(project, "queue", "status")
        time.sleep(2)
    assert dvc(project, "queue", "status").count("Success") == 4

    # The docs' trimmed `dvc exp show`: PSNR, then the params that changed; no SSIM, no hashes.
    header = dvc(project, "exp", "show", "--csv", *documented_trim()).splitlines()[0].split(",")
    psnr = [index for index, name in enumerate(header) if ":psnr." in name]
    assert "metrics/summary/conv.json:psnr.0.5" in header, header
    assert max(psnr) < header.index("train.learning_rate") < header.index("models.conv.filters")
    hashes = ("data/", "denoising/", "stages/", "metrics/compare", "models/")
    assert not [name for name in header if "ssim" in name or name.startswith(hashes)], header

    lines = run_module(project, "best", "--level", "0.5").splitlines()[2:]
    runs = [line for line in lines if "(workspace)" not in line and "(baseline)" not in line]
    assert len(runs) == 4 and all("[conv]" in line for line in runs)
    # The grid's four corners: one of them is the baseline's own params, and changes nothing.
    changed = sorted(line.split("[conv]")[1].strip() for line in runs)
    assert changed == [
        "",
        "models.conv.filters=[8, 8]",
        "models.conv.filters=[8, 8] train.learning_rate=0.01",
        "train.learning_rate=0.01",
    ]
    scores = [float(line.split()[1]) for line in lines]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1

    applied = run_module(project, "best", "--level", "0.5", "--apply")
    params = yaml.safe_load((project / "params.yaml").read_text())
    winner = lines[0]
    if "(workspace)" in winner or "(baseline)" in winner:
        assert "is the best already" in applied
    else:
        name = winner.split()[2]
        assert f"applied {name}" in applied
        assert f"train.learning_rate={params['train']['learning_rate']}" in winner
        assert str(params["models"]["conv"]["filters"]) in winner
    git(project, "checkout", "--", ".")

    space = {
        "search": {
            "train.learning_rate": {"low": 0.0005, "high": 0.01, "log": True},
            "models.conv.filters": {"choices": [[4, 4], [8, 8]]},
        }
    }
    (project / "tune.yaml").write_text(yaml.safe_dump(space))
    out = run_module(project, "tune", "--trials", "2", "--space", "tune.yaml", "--level", "0.5")
    assert "2 trials finished, 0 pruned, 0 failed" in out
    best = out.split("best: ")[1].split(",")[0]
    assert best in ("tune-0", "tune-1") and f"apply it: dvc exp apply {best}" in out
    assert best in dvc(project, "exp", "show", "--csv")
    assert not git(project, "status", "--porcelain", "params.yaml")  # --temp: untouched.


def documented_trim() -> list[str]:
    """The options of docs/comparing-runs.md's trimmed `dvc exp show` command."""
    text = (REPO / "docs/comparing-runs.md").read_text()
    command = "dvc exp show --only-changed --drop"
    line = next(line for line in text.splitlines() if line.startswith(command))
    return shlex.split(line)[3:]


def git(project, *args) -> str:
    result = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_module(project, name, *args) -> str:
    result = subprocess.run(
        [sys.executable, "-m", f"denoising.experiments.{name}", *args],
        cwd=project,
        env=pipeline_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
