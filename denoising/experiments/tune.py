"""python -m denoising.experiments.tune: an adaptive search over params with Optuna, each trial
a DVC experiment; unpromising trials are pruned after a short run.

    python -m denoising.experiments.tune --trials 8 --space tune.yaml [--level 0.5] [--method unet]

The space file (YAML) names the params to search, the params every trial sets, and how to prune:

    search:
      train.learning_rate: {low: 0.0003, high: 0.01, log: true}   # a float range
      models.unet.base_filters: {choices: [8, 16, 32]}            # one of these
      models.unet.depth: {low: 1, high: 3}                        # integers: an int range
    set:                                                          # optional, every trial
      noise.levels: [0.5]
    prune:                                                        # optional
      param: models.unet.epochs
      short: 3

Each trial runs `dvc exp run --temp --name <study>-<n>` with its params (the workspace is left as
it is) and is scored as ``python -m denoising.experiments.best`` scores: test PSNR from
``metrics/summary/``. With ``prune``, a trial first runs as ``<study>-<n>-short`` with that
param at ``short``; a trial whose short score is below the median of the earlier trials' stops
there (Optuna's median pruner). The sampler is seeded (``--seed``), and so is every training,
so the same search gives the same trials. It ends with the best params and the command that
applies them.

One search on many machines: start a worker on each (each in its own clone of the repository)
with the same ``--storage`` and ``--study``:

    python -m denoising.experiments.tune --trials 40 --space tune.yaml \
        --storage /shared/tune.journal --study wide --push origin

``--storage`` is a database URL (``postgresql://user@host/db``, through SQLAlchemy) or a journal
file on a shared filesystem (Optuna's JournalStorage). The workers draw trials from one study:
each trial number once, the pruner sees every finished trial, and ``--trials`` counts the
study's finished trials, all workers together. Each trial beats while it runs (``--heartbeat``);
one whose worker dies is marked failed by the next worker that looks, and the others go on.
Each experiment's commit message names its worker (machine and process), which
``python -m denoising.experiments.best`` shows; ``--push`` sends each experiment to a git remote
and its outputs to the default DVC remote (`dvc exp push`), for `dvc exp pull` elsewhere. Which
worker draws which trial depends on timing, so a shared search is not repeatable trial by
trial; each trial's training is.
"""

import argparse
import json
import subprocess
import sys
import zlib
from pathlib import Path

from denoising.errors import UserError, run_stage
from denoising.experiments.best import score
from denoising.experiments.storage import (
    GRACE,
    WORKER,
    fail_silent,
    heartbeat,
    in_flight,
    open_storage,
    worker_name,
)
from denoising.experiments.workers import message


class TrialFailed(Exception):
    """A trial's experiment failed (bad params, for example): the search goes on."""


SPACE_KEYS = ("search", "set", "prune")


def read_space(path: Path) -> dict:
    """The space file, checked: one line per problem, naming the key."""
    import yaml

    try:
        space = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"--space {path}: cannot read it ({error})") from None
    if not isinstance(space, dict) or not isinstance(space.get("search"), dict):
        raise UserError(f"--space {path}: needs a 'search' mapping of params to ranges")
    problems = [
        f"{path}: {key}: unknown key; known keys are {', '.join(SPACE_KEYS)}"
        for key in space
        if key not in SPACE_KEYS
    ]
    problems += [
        f"{path}: search.{name}: {spec!r} is not allowed; it must be {{low: a, high: b}} with "
        "numbers a < b (and log: true for a log scale), or {choices: [...]}"
        for name, spec in space["search"].items()
        if not _is_range(spec)
    ]
    prune = space.get("prune")
    if prune is not None and not (isinstance(prune, dict) and set(prune) == {"param", "short"}):
        problems.append(f"{path}: prune: {prune!r} is not allowed; it must be {{param, short}}")
    if not isinstance(space.get("set", {}), dict):
        problems.append(f"{path}: set: it must be a mapping of params to values")
    if problems:
        raise UserError("\n".join(problems))
    return space


def _is_range(spec) -> bool:
    if not isinstance(spec, dict):
        return False
    if set(spec) == {"choices"}:
        return isinstance(spec["choices"], list) and len(spec["choices"]) > 0
    numbers = all(
        isinstance(spec.get(k), (int, float)) and not isinstance(spec.get(k), bool)
        for k in ("low", "high")
    )
    return set(spec) <= {"low", "high", "log"} and numbers and spec["low"] < spec["high"]


def suggest(trial, search: dict) -> dict:
    """The trial's params from the search space."""
    chosen = {}
    for name, spec in search.items():
        if "choices" in spec:
            # Optuna's categorical values must be simple; lists travel as JSON text.
            texts = [json.dumps(choice) for choice in spec["choices"]]
            chosen[name] = json.loads(trial.suggest_categorical(name, texts))
        elif all(isinstance(spec[key], int) for key in ("low", "high")):
            chosen[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        else:
            chosen[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
    return chosen


def last_line(result: subprocess.CompletedProcess) -> str:
    """The end of what a failed DVC command said: its last line of stderr, or of stdout."""
    return " ".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-1:])


def run_experiment(name: str, params: dict, worker: str | None = None) -> None:
    """`dvc exp run --temp --name name -S key=value...`, its commit message naming ``worker``
    when given; a failure raises ``TrialFailed`` with the end of what DVC said."""
    settings = [
        arg for key, value in params.items() for arg in ("-S", f"{key}={json.dumps(value)}")
    ]
    named = ["-m", message(name, worker)] if worker else []
    command = [sys.executable, "-m", "dvc", "exp", "run", "--temp", "--name", name, *named]
    result = subprocess.run([*command, *settings], capture_output=True, text=True)
    if result.returncode:
        raise TrialFailed(f"{name}: {last_line(result)}")


def push(name: str, remote: str) -> None:
    """`dvc exp push remote name`: the experiment to the git remote, its outputs to the default
    DVC remote. A failure is said in one line; the search goes on (the result is local)."""
    command = [sys.executable, "-m", "dvc", "exp", "push", remote, name]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        print(f"{name}: dvc exp push {remote} failed: {last_line(result)}", flush=True)


def experiment_score(name: str, level: str | None, method: str | None) -> float:
    import dvc.api

    for row in dvc.api.exp_show():
        if row.get("Experiment") == name:
            value, _ = score(row, level, method)
            if value is None:
                raise TrialFailed(f"{name}: no PSNR to score at level {level or 'any'}")
            return value
    raise TrialFailed(f"{name}: not among `dvc exp show`'s experiments")


class Surplus(Exception):
    """A shared study had its trials already when this worker asked for one more."""


def objective(space: dict, args: argparse.Namespace, shared=None):
    """The trial's score; with a ``shared`` storage, the trial beats and names this worker,
    and one the study no longer needs stops at once."""
    import optuna

    def experiment(name: str, params: dict) -> float:
        run_experiment(name, params, worker_name() if shared is not None else None)
        if args.push:
            push(name, args.push)
        return experiment_score(name, args.level, args.method)

    def evaluate(trial) -> float:
        params = {**space.get("set", {}), **suggest(trial, space["search"])}
        name = f"{args.study}-{trial.number}"
        prune = space.get("prune")
        try:
            if prune is not None:
                short = experiment(f"{name}-short", {**params, prune["param"]: prune["short"]})
                trial.report(short, step=0)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            value = experiment(name, params)
        except TrialFailed as failure:
            trial.set_user_attr("failed", str(failure))
            raise
        print(f"trial {trial.number}: {value:.2f} dB  {name}  {params}", flush=True)
        return value

    def evaluate_shared(trial) -> float:
        with heartbeat(trial, args.heartbeat):
            if in_flight(trial.study, args.heartbeat, before=trial.number) >= args.trials:
                trial.set_user_attr("failed", f"not run: the study had its {args.trials} trials")
                raise Surplus()
            return evaluate(trial)

    return evaluate if shared is None else evaluate_shared


def make_study(args: argparse.Namespace):
    """The study, in memory or in the shared ``--storage`` (created by the first worker), and
    the storage (None in memory)."""
    import optuna

    storage = open_storage(args.storage) if args.storage else None
    # Workers of one study must not draw the same params: each seeds its own sampler.
    seed = args.seed if storage is None else zlib.crc32(f"{args.seed}:{worker_name()}".encode())
    study = optuna.create_study(
        study_name=args.study if storage is not None else None,
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    return study, storage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m denoising.experiments.tune",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=20,
        help="trials to run; with --storage, trials the shared study is to finish, all workers "
        "together (failed ones are not counted)",
    )
    parser.add_argument("--space", type=Path, required=True, help="the search space (YAML)")
    parser.add_argument("--level", help="score at this noise level (default: mean of levels)")
    parser.add_argument("--method", help="score this method (default: the best trained model)")
    parser.add_argument(
        "--study", default="tune", help="the study's name; experiment names: <study>-<n>"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument(
        "--storage",
        help="share the study with workers on other machines: a database URL "
        "(postgresql://user@host/db) or a journal file on a shared filesystem",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        help="with --storage: seconds between a worker's heartbeats; a trial silent for "
        f"{GRACE} of them is marked failed (60)",
    )
    parser.add_argument(
        "--push",
        metavar="GIT_REMOTE",
        help="dvc exp push each experiment to this git remote (outputs: the default DVC remote)",
    )
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials: {args.trials} must be at least 1")
    if args.heartbeat <= 0:
        parser.error(f"--heartbeat: {args.heartbeat} must be above 0 seconds")
    space = read_space(args.space)
    try:
        import optuna
    except ImportError:
        raise UserError("optuna is missing: pip install '.[tune]'") from None

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # Failures get one line of ours.
    study, storage = make_study(args)
    states = optuna.trial.TrialState

    def report_failure(study, trial) -> None:
        if trial.state == states.FAIL:
            print(f"trial {trial.number}: failed: {trial.user_attrs.get('failed')}", flush=True)
        elif trial.state == states.PRUNED:
            short = trial.intermediate_values.get(0, float("nan"))
            print(f"trial {trial.number}: pruned after the short run ({short:.2f} dB)", flush=True)

    def full() -> bool:
        """Whether the shared study has its trials, once the dead workers' are failed."""
        for number in fail_silent(study, storage, args.heartbeat):
            print(f"trial {number}: failed: its worker stopped beating", flush=True)
        return in_flight(study, args.heartbeat) >= args.trials

    def stop_when_full(study, trial) -> None:
        if full():
            study.stop()

    if storage is None:
        study.optimize(
            objective(space, args),
            n_trials=args.trials,
            catch=(TrialFailed,),
            callbacks=[report_failure],
        )
    else:
        if not full():
            study.optimize(
                objective(space, args, storage),
                catch=(TrialFailed, Surplus),
                callbacks=[report_failure, stop_when_full],
            )
    summarize(study, space, args)


def summarize(study, space: dict, args: argparse.Namespace) -> None:
    """The counts, the best trial, its params, and the command that applies it."""
    import optuna

    states = optuna.trial.TrialState
    done = [t for t in study.trials if t.state == states.COMPLETE]
    if not done:
        raise UserError("no trial finished; `dvc exp show` lists what ran")
    best = study.best_trial
    pruned = sum(t.state == states.PRUNED for t in study.trials)
    failed = sum(t.state == states.FAIL for t in study.trials)
    running = sum(t.state == states.RUNNING for t in study.trials)
    still = f", {running} still running elsewhere" if running else ""
    print(f"{len(done)} trials finished, {pruned} pruned, {failed} failed{still}")
    print(f"best: {args.study}-{best.number}, {best.value:.2f} dB")
    chosen = {
        **space.get("set", {}),
        **suggest(optuna.trial.FixedTrial(best.params), space["search"]),
    }
    for key, value in chosen.items():
        print(f"  {key}: {json.dumps(value)}")
    if best.user_attrs.get(WORKER):
        print(f"  (ran on {best.user_attrs[WORKER]}: dvc exp pull its git remote to apply it)")
    print(f"apply it: dvc exp apply {args.study}-{best.number}")


if __name__ == "__main__":
    run_stage(main)
