"""Retrain a bundled model through the pipeline and store it in the package, with its card.

    python scripts/train_bundled.py color [--work DIR] [--data DIR] [--overwrite]

NAME is a folder of denoising/bundled/ that holds a recipe.yaml: the params laid over
params.yaml (after bench/photo_recipe.yaml, the photo recipe) for that model. In a copy of the
pipeline (the workspace is left as it is), `dvc repro` trains the recipe's blind model (or its
model at its one level) on the recipe's data.dir (a shared benchmark's training folder; --data
gives another); a recipe with train.init starts from another bundled model; the result is
stored as denoising/bundled/NAME/model.keras with float16 weights (half the size; float32 again
when loaded), with a card that says what it was trained on, the command, the training minutes
and the machine. The same recipe and code on the same machine give the same bytes. --work keeps
the copy in DIR: if a run is cut, the same command with the same --work resumes the training.
Scores are added to the card by ``python bench/bundled.py --record``.
"""

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.photos import RECIPE, merge  # noqa: E402
from bench.project import copy_pipeline, dvc_repro, fit_timing, machine  # noqa: E402
from denoising.bundled import BUNDLED, recipe_path  # noqa: E402


def recipe(name: str, data: Path | None) -> dict:
    """The photo recipe with the bundled model's recipe over it; data.dir made absolute."""
    params = merge(
        yaml.safe_load(RECIPE.read_text()), yaml.safe_load(recipe_path(name).read_text())
    )
    folder = data or (REPO / params["data"]["dir"])
    params["data"]["dir"] = str(folder.resolve())
    return params


def trained_model(params: dict) -> tuple[str, str]:
    """The recipe's model and its level: its blind model ("blind"), or else its first model at
    its one level (a real-noise model: "real")."""
    blind = params["train"]["blind_models"]
    if blind:
        return blind[0], "blind"
    return params["train"]["models"][0], str(params["noise"]["levels"][0])


def train(params: dict, work: Path) -> Path:
    """Train the model of recipe ``params`` in ``work`` (copied there unless it is already);
    its folder there."""
    model, level = trained_model(params)
    if not (work / "dvc.yaml").is_file():
        copy_pipeline(work, lambda base: base.update(merge(base, params)))
    dvc_repro(work, f"train_blind@{model}" if level == "blind" else f"train@{model}-{level}")
    return work / "models" / model / level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a bundled model with a recipe in denoising/bundled/")
    parser.add_argument("--work", type=Path, help="the pipeline's copy (kept; resumes a cut run)")
    parser.add_argument("--data", type=Path, help="train on this folder instead of the recipe's")
    parser.add_argument("--overwrite", action="store_true", help="replace a stored model")
    args = parser.parse_args()
    if not recipe_path(args.name).is_file():
        parser.error(f"{args.name}: no recipe; bundled recipes: {', '.join(BUNDLED)}")
    target = recipe_path(args.name).with_name("model.keras")
    if target.exists() and not args.overwrite:
        parser.error(f"{target} exists; --overwrite replaces it")
    work = args.work or Path(tempfile.mkdtemp(prefix=f"bundled-{args.name}-"))
    print(f"# {machine()}; work: {work}", flush=True)
    params = recipe(args.name, args.data)
    folder = train(params, work)
    timing = fit_timing(work, *trained_model(params))
    trained = {
        "command": shlex.join(["python", "scripts/train_bundled.py", *sys.argv[1:]]),
        "data_dir": params["data"]["dir"],
        "fit_minutes": round(timing["fit_seconds"] / 60, 1),
        "epochs_run": timing["epochs_run"],
        "steps_per_epoch": timing["steps_per_epoch"],
        "machine": machine(),
    }
    from denoising.bundled.store import store_bundled  # TensorFlow, once there is a model.

    store_bundled(folder, target.parent, trained)
    print(json.dumps(trained))


if __name__ == "__main__":
    main()
