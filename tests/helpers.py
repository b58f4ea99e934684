"""Helpers shared by the tests: tiny seeded images, a copy of the pipeline in a fresh repo,
and DVC run on it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from bench.project import copy_pipeline, python_env

REPO = Path(__file__).resolve().parent.parent


def write_digit_like_images(folder: Path, count: int, seed: int, size: int = 32) -> None:
    """Write ``count`` grayscale PNGs of bright blobs on black, in two nested subfolders."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    for index in range(count):
        centre = rng.uniform(size * 0.3, size * 0.7, size=2)
        radius = rng.uniform(size * 0.15, size * 0.3)
        blob = np.hypot(rows - centre[0], cols - centre[1]) < radius
        pixels = (blob * rng.uniform(180, 255)).astype(np.uint8)
        subfolder = folder / f"class{index % 2}"
        subfolder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(subfolder / f"{index:03d}.png")


def save_with_card(model, folder: Path, input_shape, multiple: int) -> Path:
    """Save a Keras model with the card that denoise-images needs beside it."""
    from denoising.train.models import save_model

    folder.mkdir(parents=True)
    save_model(model, folder / "model.keras")
    card = {"model": model.name, "input_shape": input_shape, "size_multiple": multiple}
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def gradient(width: int = 40, height: int = 30) -> np.ndarray:
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    return np.stack([np.tile(ramp, (height, 1)), np.tile(ramp[::-1], (height, 1))] * 2, -1)[
        ..., :3
    ]


# The environment for DVC runs: the stages' "python" and DVC itself must be this interpreter's.
pipeline_env = python_env


def run(args, cwd):
    """Run a command and return its stdout; a failure shows everything it printed."""
    result = subprocess.run(
        args, cwd=cwd, env=pipeline_env(), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stage_process(stage: str, params_path, *args) -> subprocess.CompletedProcess:
    """Run ``python -m stages.<stage> --params params_path args...`` from the repository, as
    DVC would; the finished process, with its output as text."""
    return subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", "--params", str(params_path), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def dvc(project, *args):
    return run([sys.executable, "-m", "dvc", *args], project)


def ran_stages(output):
    """The names of the stages that a `dvc repro` output says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def set_param(project, dotted_key, value):
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    *sections, key = dotted_key.split(".")
    section = params
    for name in sections:
        section = section[name]
    section[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(project, data_dir, levels, models, **sections):
    """A copy of the pipeline in a fresh git + DVC repo, with tiny params, reading ``data_dir``.

    ``sections`` update params sections, for example ``baselines={"max_images": 4}``.
    """

    def update(params: dict) -> None:
        params["data"]["dir"] = str(data_dir)
        params["noise"]["levels"] = levels
        params["train"].update(
            models=models, blind_models=[], epochs=1, blind_epochs=1, batch_size=16
        )
        params["models"]["conv"].update(filters=[4, 4], batch_size=16)
        params["baselines"].update(methods=["median", "bm3d"], max_images=6, workers=2)
        params["visualize"].update(n_samples=3, baselines=[])
        # The apply stage uses a fully convolutional model when there is one (dense only takes
        # its training size).
        params["apply"]["model"] = f"{'conv' if 'conv' in models else models[0]}/{levels[-1]}"
        params["apply"]["resize"] = "conv" not in models
        for name, values in sections.items():
            params[name].update(values)

    project.mkdir(parents=True)
    copy_pipeline(project, update)
    return project
