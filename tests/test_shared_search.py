"""A search shared by tune workers: the storage, heartbeats and the failing of silent trials on
their own, the commit message that names a worker, and (e2e) two workers in two clones of one
project sharing a journal file, or a real PostgreSQL server, pushing their experiments to a
bare git remote and a folder DVC remote, from which a third clone pulls and ranks them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from denoising.errors import UserError
from denoising.experiments import storage as shared
from denoising.experiments.workers import message, worker_of
from tests.helpers import make_project, pipeline_env, write_digit_like_images

optuna = pytest.importorskip("optuna")
STATES = optuna.trial.TrialState


def journal_study(path: Path, name: str = "s"):
    store = shared.open_storage(str(path))
    return optuna.create_study(study_name=name, storage=store, load_if_exists=True), store


def test_a_journal_path_and_a_bad_place_or_url_are_told_apart(tmp_path):
    assert type(shared.open_storage(str(tmp_path / "j.log"))).__name__ == "JournalStorage"
    with pytest.raises(UserError, match="folder .*missing does not exist"):
        shared.open_storage(str(tmp_path / "missing/j.log"))
    with pytest.raises(UserError, match="cannot open this database"):
        shared.open_storage("nosuchdialect://user@host/db")


def test_a_trial_that_stops_beating_is_failed_and_no_longer_counted(tmp_path):
    study, store = journal_study(tmp_path / "j.log")
    done = study.ask()
    study.tell(done, 1.0)
    alive, dead = study.ask(), study.ask()
    with shared.heartbeat(alive, interval=0.2):
        dead.set_user_attr(shared.WORKER, "elsewhere:1")
        dead.set_user_attr(shared.HEARTBEAT, time.time())
        assert shared.in_flight(study, 0.2) == 3
        time.sleep(1.0)  # 5 intervals: the dead one is past GRACE, the live one has beaten.
        # Another process sees the same: a second handle on the same file.
        other, other_store = journal_study(tmp_path / "j.log")
        assert shared.in_flight(other, 0.2) == 2
        assert shared.in_flight(other, 0.2, before=alive.number) == 1
        assert shared.fail_silent(other, other_store, 0.2) == [dead.number]
        assert shared.fail_silent(other, other_store, 0.2) == []  # Once.
    trials = {t.number: t for t in study.get_trials()}
    assert trials[dead.number].state == STATES.FAIL
    assert "elsewhere:1" in trials[dead.number].user_attrs["failed"]
    assert trials[alive.number].state == STATES.RUNNING
    assert trials[alive.number].user_attrs[shared.WORKER] == shared.worker_name()
    # A trial asked for and never beating (its worker died at once) ages from its start.
    silent = study.ask()
    assert shared.in_flight(study, 0.2, before=silent.number + 1) == 3
    time.sleep(0.7)
    assert silent.number in shared.fail_silent(study, store, 0.2)


def test_the_commit_message_names_the_worker_and_nothing_else_does():
    worker = f"{socket.gethostname()}:123"
    assert worker_of(message("wide-3", worker)) == worker
    assert worker_of("dvc: commit experiment 0a1b2c") is None
    assert worker_of(message("wide-3", worker) + " and more") is None


SPACE = {"search": {"train.learning_rate": {"low": 0.0005, "high": 0.02, "log": True}}}


def shared_project(tmp_path: Path, names: list[str]) -> dict[str, Path]:
    """A tiny project pushed to a bare git remote, with a folder DVC remote, and a clone of it
    per name, each with its own git identity."""
    write_digit_like_images(tmp_path / "data/train", 32, seed=21)
    write_digit_like_images(tmp_path / "data/test", 8, seed=22)
    project = make_project(
        tmp_path / "project",
        tmp_path / "data",
        [0.5],
        ["conv"],
        baselines={"methods": ["median"]},
        visualize={"n_samples": 2},
    )
    (project / "tune.yaml").write_text(yaml.safe_dump(SPACE))
    subprocess.run(["git", "init", "-q", "--bare", tmp_path / "origin.git"], check=True)
    for command in (
        [sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(tmp_path / "store")],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "the search space and the DVC remote"],
        ["git", "remote", "add", "origin", str(tmp_path / "origin.git")],
        ["git", "push", "-q", "origin", "HEAD:main"],
    ):
        subprocess.run(command, cwd=project, check=True, capture_output=True, env=pipeline_env())
    clones = {}
    for name in names:
        clone = tmp_path / name
        subprocess.run(
            ["git", "clone", "-q", "-b", "main", tmp_path / "origin.git", clone], check=True
        )
        for key, value in (("user.name", f"worker {name}"), ("user.email", f"{name}@example.com")):
            subprocess.run(["git", "config", key, value], cwd=clone, check=True)
        clones[name] = clone
    return clones


def worker(clone: Path, storage: str, trials: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "denoising.experiments.tune", "--space", "tune.yaml",
        "--trials", str(trials), "--level", "0.5", "--study", "shared", "--storage", storage,
        "--heartbeat", "3", "--push", "origin",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=clone,
        env=pipeline_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # So that killing it kills its dvc exp run too.
    )


def trials_of(storage: str) -> list:
    try:
        study = optuna.load_study(study_name="shared", storage=shared.open_storage(storage))
    except KeyError:  # Not created yet.
        return []
    return study.get_trials()


def ranked_by_the_third_clone(clone: Path) -> list[str]:
    def run(*command):
        done = subprocess.run(
            command, cwd=clone, env=pipeline_env(), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run(sys.executable, "-m", "dvc", "exp", "pull", "origin")
    table = run(sys.executable, "-m", "denoising.experiments.best", "--level", "0.5")
    return [line for line in table.splitlines()[2:] if "shared-" in line]


@pytest.mark.e2e
def test_two_workers_share_a_journal_and_one_killed_mid_trial_leaves_it_failed(tmp_path):
    clones = shared_project(tmp_path, ["a", "b", "c"])
    (tmp_path / "shared").mkdir()
    storage = str(tmp_path / "shared/tune.journal")
    a = worker(clones["a"], storage, 4)
    b = worker(clones["b"], storage, 4)
    name_a = f"{socket.gethostname()}:{a.pid}"
    killed, deadline = None, time.monotonic() + 900
    while killed is None and time.monotonic() < deadline and a.poll() is None:
        trials = trials_of(storage)
        mine = [t for t in trials if t.user_attrs.get(shared.WORKER) == name_a]
        # A's second trial: after one of its own has finished.
        if any(t.state == STATES.COMPLETE for t in mine) and any(
            t.state == STATES.RUNNING for t in mine
        ):
            killed = next(t.number for t in mine if t.state == STATES.RUNNING)
            os.killpg(a.pid, signal.SIGKILL)
        time.sleep(0.5)
    a.wait(timeout=60)
    out, _ = b.communicate(timeout=1200)
    assert killed is not None, f"worker a never ran a second trial:\n{out}"
    assert b.returncode == 0, out
    assert "4 trials finished, 0 pruned, 1 failed" in out
    trials = {t.number: t for t in trials_of(storage)}
    complete = [t for t in trials.values() if t.state == STATES.COMPLETE]
    assert len(complete) == 4 and len({t.number for t in complete}) == 4
    assert len({t.params["train.learning_rate"] for t in complete}) == 4
    assert trials[killed].state == STATES.FAIL and "stopped" in trials[killed].user_attrs["failed"]
    assert {t.user_attrs[shared.WORKER] for t in complete} == {
        name_a,
        f"{socket.gethostname()}:{b.pid}",
    }

    # Both workers pushed: the models and results are in the DVC remote, and the third clone
    # pulls the experiments and ranks them by worker.
    assert [path for path in (tmp_path / "store").rglob("*") if path.is_file()]
    lines = ranked_by_the_third_clone(clones["c"])
    assert sorted(line.split()[2] for line in lines) == sorted(
        f"shared-{t.number}" for t in complete
    )
    assert sum(f"(on {name_a})" in line for line in lines) == 1
    assert sum(f"(on {socket.gethostname()}:{b.pid})" in line for line in lines) == 3


def postgres_binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or where Debian's postgresql package puts it."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists():
            return folder
    return None


@pytest.fixture
def postgres(tmp_path):
    """A PostgreSQL server of its own, on a free port, as a user other than root (it refuses
    root); its URL."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    as_user = []
    if os.geteuid() == 0:
        if (
            shutil.which("runuser") is None
            or subprocess.run(["id", "postgres"], capture_output=True).returncode
        ):
            pytest.skip("running as root without a 'postgres' user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    home = server_home()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = home / "data"
    run = lambda *command: subprocess.run([*as_user, *command], check=True, capture_output=True)  # noqa: E731
    run(str(binaries / "initdb"), "-D", str(data), "-U", "tune", "--auth", "trust")
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(home / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://tune@127.0.0.1:{port}/postgres"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


def server_home() -> Path:
    """A folder the server's user owns (pytest's temporary folders are root's alone)."""
    home = Path(tempfile.mkdtemp(prefix="postgres-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    return home


@pytest.mark.e2e
def test_two_workers_share_a_postgresql_study(tmp_path, postgres):
    clones = shared_project(tmp_path, ["a", "b"])
    workers = [worker(clones[name], postgres, 2) for name in ("a", "b")]
    outputs = [process.communicate(timeout=1200)[0] for process in workers]
    assert [process.returncode for process in workers] == [0, 0], outputs
    complete = [t for t in trials_of(postgres) if t.state == STATES.COMPLETE]
    assert sorted(t.number for t in complete) == [0, 1]
    names = {f"{socket.gethostname()}:{process.pid}" for process in workers}
    assert {t.user_attrs[shared.WORKER] for t in complete} <= names
    # The first to stop may see the other's trial still running: "1 still running elsewhere".
    assert all("trials finished" in out for out in outputs), outputs
    assert any("2 trials finished" in out for out in outputs), outputs
