"""Which worker ran an experiment: a tune worker writes itself into the experiment's commit
message (`dvc exp run -m`), and best reads it back from the experiment refs that
`dvc exp pull` brings from other machines.

The guarantee: ``worker_of(message(name, worker)) == worker`` for a worker name without
spaces, and ``None`` for any other message (DVC's own, a hand-made one); ``workers()`` maps the
name of every experiment in this repository's git refs to the worker that ran it, if one did.
"""

import re
import subprocess

PREFIX = "tune trial"
_PATTERN = re.compile(rf"{PREFIX} (\S+) on (\S+)$")


def message(name: str, worker: str) -> str:
    """The commit message of experiment ``name`` run by ``worker``."""
    return f"{PREFIX} {name} on {worker}"


def worker_of(text: str) -> str | None:
    """The worker a commit message names, if it is one that ``message`` wrote."""
    found = _PATTERN.match(text.strip())
    return found.group(2) if found else None


def workers() -> dict[str, str]:
    """{experiment name: worker} for the experiments whose refs (refs/exps/...) this repository
    holds, read in one git call; empty outside a git repository."""
    result = subprocess.run(
        ["git", "for-each-ref", "refs/exps", "--format=%(refname)%00%(contents:subject)"],
        capture_output=True,
        text=True,
    )
    found = {}
    for line in result.stdout.splitlines() if result.returncode == 0 else []:
        ref, _, subject = line.partition("\0")
        worker = worker_of(subject)
        if worker is not None:
            found[ref.rsplit("/", 1)[-1]] = worker
    return found
