"""One Optuna study shared by tune workers on many machines, through Optuna's own storages.

The guarantee: ``open_storage`` gives the storage that ``--storage`` names (a database URL such
as ``postgresql://user@host/db``, handed to Optuna's RDBStorage, or else the path of a journal
file on a shared filesystem, for JournalStorage); every worker that opens the same storage and
study name sees the same trials, numbered once each by the storage. A worker's running trial
carries its worker's name and a heartbeat (a time stamp renewed every ``interval`` seconds);
``fail_silent`` marks failed, with the reason, every running trial whose heartbeat is older
than ``GRACE`` intervals, so a worker that dies leaves its trial failed, not running forever.
``in_flight`` counts the trials that are finished or still alive, which is what decides when
the study has its trials. (Optuna's RDBStorage has a heartbeat of its own, but JournalStorage
has none; one mechanism serves both.)
"""

import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from denoising.errors import UserError

# A running trial whose heartbeat is this many intervals old is taken for dead.
GRACE = 3
WORKER, HEARTBEAT = "worker", "heartbeat"
# Opening a database that another worker is creating the tables of, at most this many times.
TRIES = 5


def worker_name() -> str:
    """This worker, as trials and experiments name it: the machine and the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def open_storage(url: str):
    """The storage that ``--storage`` names: a database URL, or a journal file's path."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if "://" in url:
        for attempt in range(TRIES):
            try:
                return optuna.storages.RDBStorage(url)
            except Exception as error:  # SQLAlchemy raises its own types for a bad URL or server.
                # Workers started together may race to create the tables: the loser tries again.
                if attempt + 1 < TRIES and "duplicate key" in str(error):
                    time.sleep(1 + attempt)
                    continue
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise UserError(
                    f"--storage {url}: cannot open this database ({type(error).__name__}: "
                    f"{reason[:200]})"
                ) from None
    path = Path(url)
    if not path.parent.is_dir():
        raise UserError(
            f"--storage {url}: folder {path.parent} does not exist; give a journal file in a "
            "shared folder, or a database URL such as postgresql://user@host/db"
        )
    return JournalStorage(JournalFileBackend(str(path)))


@contextmanager
def heartbeat(trial, interval: float):
    """While the block runs, ``trial`` names this worker and renews its heartbeat."""
    trial.set_user_attr(WORKER, worker_name())
    trial.set_user_attr(HEARTBEAT, time.time())
    done = threading.Event()

    def beat() -> None:
        while not done.wait(interval):
            trial.set_user_attr(HEARTBEAT, time.time())

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _alive(trial, interval: float, now: float) -> bool:
    beat = trial.user_attrs.get(HEARTBEAT)
    if beat is None:  # Asked for, not yet beating: the asking worker beats straight away.
        started = trial.datetime_start  # Optuna's clock: local, naive
        beat = started.timestamp() if started is not None else now
    return now - beat < GRACE * interval


def fail_silent(study, storage, interval: float) -> list[int]:
    """Mark failed every running trial of ``study`` (in ``storage``) whose worker has stopped
    beating; their numbers."""
    import optuna

    running = optuna.trial.TrialState.RUNNING
    study_id = storage.get_study_id_from_name(study.study_name)
    now, failed = time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(running,)):
        if _alive(trial, interval, now):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        worker = trial.user_attrs.get(WORKER, "?")
        reason = f"worker {worker} stopped: no heartbeat for {GRACE * interval:g} s"
        try:
            storage.set_trial_user_attr(trial_id, "failed", reason)
            storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL)
        except RuntimeError:  # Another worker failed it first, or it just finished.
            continue
        failed.append(trial.number)
    return failed


def in_flight(study, interval: float, before: int | None = None) -> int:
    """The trials that finished (completed or pruned) or are running with a live heartbeat;
    with ``before``, only those numbered below it."""
    import optuna

    states = optuna.trial.TrialState
    now = time.time()
    return sum(
        1
        for trial in study.get_trials(deepcopy=False)
        if (before is None or trial.number < before)
        and (
            trial.state in (states.COMPLETE, states.PRUNED)
            or (trial.state == states.RUNNING and _alive(trial, interval, now))
        )
    )
