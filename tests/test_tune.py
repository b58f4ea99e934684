"""python -m denoising.experiments.tune: the space file's checks, and the search with the DVC
experiments replaced by a scoring function (the e2e test in test_best.py runs real ones)."""

import pytest
import yaml

from denoising.errors import UserError
from denoising.experiments import tune

SPACE = {
    "search": {
        "train.learning_rate": {"low": 0.0001, "high": 0.01, "log": True},
        "models.conv.filters": {"choices": [[4, 4], [8, 8]]},
        "models.conv.epochs": {"low": 2, "high": 6},
    },
    "set": {"noise.levels": [0.5]},
    "prune": {"param": "train.epochs", "short": 1},
}


def write(tmp_path, space) -> str:
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(space))
    return str(path)


def test_a_bad_space_file_says_what_is_wrong_one_line_per_problem(tmp_path):
    bad = {
        "search": {"train.learning_rate": {"low": 0.1, "high": 0.01}, "x.y": [1, 2]},
        "prune": {"param": "train.epochs"},
        "sett": {},
    }
    with pytest.raises(UserError) as error:
        tune.read_space(tmp_path / "missing.yaml")
    assert "cannot read it" in str(error.value)
    with pytest.raises(UserError) as error:
        tune.read_space(tune.Path(write(tmp_path, bad)))
    lines = str(error.value).splitlines()
    assert len(lines) == 4
    assert any("sett: unknown key" in line for line in lines)
    assert any("search.train.learning_rate" in line for line in lines)
    assert any("search.x.y" in line for line in lines)
    assert any("prune:" in line for line in lines)


def test_the_search_prunes_trials_whose_short_run_is_below_the_median(
    tmp_path, monkeypatch, capsys
):
    """Scores fall with every trial, so from the third on each short run is below the median
    of the earlier ones: those trials stop before their full run."""
    runs, scores = [], {}

    def run_experiment(name, params, worker=None):
        runs.append(name)
        assert params["noise.levels"] == [0.5]
        assert params.get("train.epochs") == (1 if name.endswith("-short") else None)
        number = int(name.split("-")[1])
        scores[name] = 20.0 - number - (0.5 if name.endswith("-short") else 0.0)

    monkeypatch.setattr(tune, "run_experiment", run_experiment)
    monkeypatch.setattr(tune, "experiment_score", lambda name, level, method: scores[name])
    tune.main(["--trials", "4", "--space", write(tmp_path, SPACE), "--study", "t"])
    out = capsys.readouterr().out
    assert runs == ["t-0-short", "t-0", "t-1-short", "t-1", "t-2-short", "t-3-short"]
    assert "trial 2: pruned after the short run (17.50 dB)" in out
    assert "2 trials finished, 2 pruned, 0 failed" in out
    assert "best: t-0, 20.00 dB" in out and "apply it: dvc exp apply t-0" in out


def test_a_failed_trial_does_not_stop_the_search(tmp_path, monkeypatch, capsys):
    def run_experiment(name, params, worker=None):
        if name == "t-1":
            raise tune.TrialFailed("t-1: ERROR: train.epochs: 0 is not allowed")

    space = {"search": SPACE["search"]}
    monkeypatch.setattr(tune, "run_experiment", run_experiment)
    monkeypatch.setattr(tune, "experiment_score", lambda name, level, method: 10.0)
    tune.main(["--trials", "3", "--space", write(tmp_path, space), "--study", "t"])
    out = capsys.readouterr().out
    assert "trial 1: failed: t-1: ERROR: train.epochs: 0 is not allowed" in out
    assert "2 trials finished, 0 pruned, 1 failed" in out


def test_the_same_seed_samples_the_same_params(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        tune, "run_experiment", lambda name, params, worker=None: seen.append(params)
    )
    monkeypatch.setattr(tune, "experiment_score", lambda name, level, method: 1.0)
    space = write(tmp_path, {"search": SPACE["search"]})
    for _ in range(2):
        tune.main(["--trials", "3", "--space", space, "--seed", "5"])
    assert seen[:3] == seen[3:]
    assert all(p["models.conv.filters"] in ([4, 4], [8, 8]) for p in seen)
    assert all(isinstance(p["models.conv.epochs"], int) for p in seen)


def test_a_shared_study_counts_every_workers_trials_and_fails_a_dead_ones(
    tmp_path, monkeypatch, capsys
):
    """Through a journal file: a trial left running by a worker that died (no heartbeat) is
    failed, the study gets its 3 finished trials, and a worker that comes later runs none."""
    import optuna

    from denoising.experiments import storage as shared

    journal = str(tmp_path / "tune.journal")
    study = optuna.create_study(
        study_name="t", storage=shared.open_storage(journal), direction="maximize"
    )
    dead = study.ask()
    dead.set_user_attr(shared.WORKER, "gone:1")
    dead.set_user_attr(shared.HEARTBEAT, 0.0)  # Silent since 1970.
    names = []

    def run_experiment(name, params, worker=None):
        names.append((name, worker))

    monkeypatch.setattr(tune, "run_experiment", run_experiment)
    monkeypatch.setattr(tune, "experiment_score", lambda name, level, method: 10.0)
    space = write(tmp_path, {"search": SPACE["search"]})
    shared_args = ["--storage", journal, "--study", "t", "--space", space, "--trials", "3"]
    tune.main(shared_args)
    out = capsys.readouterr().out
    assert "trial 0: failed: its worker stopped beating" in out
    assert "3 trials finished, 0 pruned, 1 failed" in out
    assert [name for name, _ in names] == ["t-1", "t-2", "t-3"]
    assert {worker for _, worker in names} == {shared.worker_name()}
    tune.main(shared_args)  # Another worker, later: nothing left to do.
    assert len(names) == 3
    assert "3 trials finished, 0 pruned, 1 failed" in capsys.readouterr().out
