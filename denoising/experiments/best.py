"""python -m denoising.experiments.best: the experiments ranked by test PSNR, with the params
each changed; ``--apply`` puts the best one's params and results in the workspace
(`dvc exp apply`).

    python -m denoising.experiments.best [--level 0.5] [--method unet] [--apply]

Scores come from ``metrics/summary/<method>.json`` (on the test subset that ``best.json`` there
counts), as `dvc exp show` lists them.
An experiment's score is the PSNR of ``--method`` at ``--level``; without ``--method``, of its
best trained model there (the classical baselines and the noisy input aside: they do not change
with training params); without ``--level``, averaged over its levels.
Experiments without that score (failed, queued, other levels) are listed last, unranked.
An experiment that a tune worker ran (``python -m denoising.experiments.tune --storage``) names
the worker, machine and process, that ran it: after `dvc exp pull` from several machines, the
ranking says where each result came from.
"""

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from denoising.errors import UserError, run_stage
from denoising.experiments.workers import workers
from denoising.names import BASELINE_NAMES

PSNR = "psnr."
SUMMARY = "metrics/summary/"
# What the summary scores besides the trained models.
UNTRAINED = {"noisy", *BASELINE_NAMES}
# The columns of `dvc exp show` that describe a row rather than its params or metrics.
INFO = {"Experiment", "rev", "typ", "Created", "parent", "State", "Executor"}


@dataclass
class Ranked:
    """One row of `dvc exp show`: its name and type (workspace, baseline, an experiment), score
    (None: unranked), the method scored, the params it changed from the baseline, and the
    worker that ran it (None: not a tune worker's)."""

    name: str
    typ: str
    score: float | None
    method: str
    changed: dict = field(default_factory=dict)
    worker: str | None = None

    @property
    def label(self) -> str:
        kind = f" ({self.typ})" if self.typ in ("workspace", "baseline") else ""
        where = f" (on {self.worker})" if self.worker else ""
        return f"{self.name}{kind}{where}"


def psnr_columns(row: dict) -> dict[str, dict[str, float]]:
    """The summary's PSNR values of a `dvc exp show` row, as {level: {method: dB}}. Every
    method has its own file with the same keys, so DVC names a column by file and key:
    ``metrics/summary/unet.json:psnr.0.5``."""
    found: dict[str, dict[str, float]] = {}
    for column, value in row.items():
        path, _, name = column.rpartition(":")
        if not path.startswith(SUMMARY) or not name.startswith(PSNR):
            continue
        if isinstance(value, (int, float)):
            method = PurePosixPath(path).stem
            found.setdefault(name[len(PSNR) :], {})[method] = float(value)
    return found


def score(row: dict, level: str | None, method: str | None) -> tuple[float | None, str]:
    """The row's score and the method it is of (see the module's docstring)."""
    by_level = psnr_columns(row)
    levels = [level] if level is not None else sorted(by_level)
    values, methods = [], set()
    for at in levels:
        scores = by_level.get(at, {})
        if method is None:
            trained = {m: v for m, v in scores.items() if m not in UNTRAINED}
            chosen = max(trained, key=trained.get, default=None)
        else:
            chosen = method
        if chosen not in scores:
            return None, method or "-"
        values.append(scores[chosen])
        methods.add(chosen)
    if not values:
        return None, method or "-"
    return sum(values) / len(values), "/".join(sorted(methods))


def param_columns(rows: list[dict], keys: set[str]) -> list[str]:
    """The columns that are params: ``keys`` (params.yaml's, dotted), or other dotted names
    under one of its sections (a param an experiment added). Dependencies are paths, and one
    may be named like a section ("models"), so a name with a slash or without a dot is a param
    only if params.yaml has it."""
    sections = {key.split(".")[0] for key in keys}
    names = {column for row in rows for column in row} - INFO

    def is_param(column: str) -> bool:
        name = column.rsplit(":", 1)[-1]
        if name in keys:
            return True
        return "/" not in name and "." in name and name.split(".")[0] in sections

    return sorted(filter(is_param, names))


def rank(
    rows: list[dict], keys: set[str], level=None, method=None, ran_by: dict | None = None
) -> list[Ranked]:
    """The experiments of `dvc exp show`'s ``rows`` (the baseline's first), best first, each
    with the params (``keys``: params.yaml's, dotted) it changed from the baseline, and its
    worker from ``ran_by`` ({experiment name: worker})."""
    ran_by = ran_by or {}
    params = param_columns(rows, keys)
    baseline = next((row for row in rows if row.get("typ") == "baseline"), rows[0])
    ranked = []
    for row in rows:
        name = row.get("Experiment") or row.get("rev") or "?"
        value, scored = score(row, level, method)
        changed = {p: row.get(p) for p in params if row.get(p) != baseline.get(p)}
        worker = ran_by.get(name)
        ranked.append(Ranked(name, row.get("typ", ""), value, scored, changed, worker))
    ranked.sort(key=lambda r: (r.score is None, -(r.score or 0.0)))
    return ranked


def shown(value) -> str:
    """A param's value as params.yaml would have it: `dvc exp show` may give an integer as a
    float (64.0) in a column that has empty cells."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, list) else str(value)


def table(ranked: list[Ranked], level: str | None) -> str:
    where = f"at noise level {level}" if level is not None else "averaged over levels"
    lines = [f"test PSNR {where}, best first", f"{'rank':>4}  {'PSNR dB':>8}  experiment"]
    for index, entry in enumerate(ranked, start=1):
        position = f"{index:>4}" if entry.score is not None else "   -"
        value = f"{entry.score:8.2f}" if entry.score is not None else f"{'-':>8}"
        changes = " ".join(f"{k.rsplit(':', 1)[-1]}={shown(v)}" for k, v in entry.changed.items())
        lines.append(f"{position}  {value}  {entry.label} [{entry.method}] {changes}".rstrip())
    return "\n".join(lines)


def flat_keys(values: dict, prefix: str = "") -> set[str]:
    """The dotted keys of a nested mapping's leaves, as `dvc exp show` names params."""
    keys = set()
    for key, value in values.items():
        name = f"{prefix}{key}"
        keys |= flat_keys(value, f"{name}.") if isinstance(value, dict) else {name}
    return keys


def params_keys() -> set[str]:
    import yaml

    try:
        with open("params.yaml") as file:
            return flat_keys(yaml.safe_load(file))
    except OSError as error:
        message = f"params.yaml: cannot read it ({error}); run this in the project's folder"
        raise UserError(message) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m denoising.experiments.best", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--level", help="score at this noise level (default: mean of levels)")
    parser.add_argument("--method", help="score this method (default: the best trained model)")
    parser.add_argument("--apply", action="store_true", help="dvc exp apply the best run")
    args = parser.parse_args(argv)
    import dvc.api

    rows = dvc.api.exp_show()
    ranked = rank(rows, params_keys(), args.level, args.method, workers())
    print(table(ranked, args.level))
    if not args.apply:
        return
    best = next((r for r in ranked if r.score is not None), None)
    if best is None:
        raise UserError("no experiment has a score to rank by; nothing was applied")
    if best.typ in ("workspace", "baseline"):
        print(f"{best.label} is the best already; nothing to apply")
        return
    subprocess.run([sys.executable, "-m", "dvc", "exp", "apply", best.name], check=True)
    print(f"applied {best.name}: `dvc params diff` shows its params, `git diff` everything")


if __name__ == "__main__":
    run_stage(main)
