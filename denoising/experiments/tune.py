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
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from denoising.errors import UserError, run_stage
from denoising.experiments.best import score


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


def run_experiment(name: str, params: dict) -> None:
    """`dvc exp run --temp --name name -S key=value...`; a failure raises ``TrialFailed`` with
    the end of what DVC said."""
    settings = [
        arg for key, value in params.items() for arg in ("-S", f"{key}={json.dumps(value)}")
    ]
    command = [sys.executable, "-m", "dvc", "exp", "run", "--temp", "--name", name, *settings]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
        raise TrialFailed(f"{name}: {' '.join(last)}")


def experiment_score(name: str, level: str | None, method: str | None) -> float:
    import dvc.api

    for row in dvc.api.exp_show():
        if row.get("Experiment") == name:
            value, _ = score(row, level, method)
            if value is None:
                raise TrialFailed(f"{name}: no PSNR to score at level {level or 'any'}")
            return value
    raise TrialFailed(f"{name}: not among `dvc exp show`'s experiments")


def objective(space: dict, args: argparse.Namespace):
    import optuna

    def evaluate(trial) -> float:
        params = {**space.get("set", {}), **suggest(trial, space["search"])}
        name = f"{args.study}-{trial.number}"
        prune = space.get("prune")
        try:
            if prune is not None:
                run_experiment(f"{name}-short", {**params, prune["param"]: prune["short"]})
                trial.report(experiment_score(f"{name}-short", args.level, args.method), step=0)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            run_experiment(name, params)
            value = experiment_score(name, args.level, args.method)
        except TrialFailed as failure:
            trial.set_user_attr("failed", str(failure))
            raise
        print(f"trial {trial.number}: {value:.2f} dB  {name}  {params}", flush=True)
        return value

    return evaluate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m denoising.experiments.tune",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--space", type=Path, required=True, help="the search space (YAML)")
    parser.add_argument("--level", help="score at this noise level (default: mean of levels)")
    parser.add_argument("--method", help="score this method (default: the best trained model)")
    parser.add_argument("--study", default="tune", help="experiment names: <study>-<n>")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"--trials: {args.trials} must be at least 1")
    space = read_space(args.space)
    try:
        import optuna
    except ImportError:
        raise UserError("optuna is missing: pip install '.[tune]'") from None

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # Failures get one line of ours.
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )

    def report_failure(study, trial) -> None:
        if trial.state == optuna.trial.TrialState.FAIL:
            print(f"trial {trial.number}: failed: {trial.user_attrs.get('failed')}", flush=True)
        elif trial.state == optuna.trial.TrialState.PRUNED:
            short = trial.intermediate_values.get(0, float("nan"))
            print(f"trial {trial.number}: pruned after the short run ({short:.2f} dB)", flush=True)

    study.optimize(
        objective(space, args),
        n_trials=args.trials,
        catch=(TrialFailed,),
        callbacks=[report_failure],
    )
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise UserError("no trial finished; `dvc exp show` lists what ran")
    best = study.best_trial
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    failed = len(study.trials) - len(done) - pruned
    print(f"{len(done)} trials finished, {pruned} pruned, {failed} failed")
    print(f"best: {args.study}-{best.number}, {best.value:.2f} dB")
    chosen = {
        **space.get("set", {}),
        **suggest(optuna.trial.FixedTrial(best.params), space["search"]),
    }
    for key, value in chosen.items():
        print(f"  {key}: {json.dumps(value)}")
    print(f"apply it: dvc exp apply {args.study}-{best.number}")


if __name__ == "__main__":
    run_stage(main)
