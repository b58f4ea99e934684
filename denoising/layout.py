"""Where the pipeline's data lives, named once: the splits of every array, and the names that
models are stored and scored under. ``dvc.yaml`` writes the same paths as ``data/<stage>/<level>``
(and ``/<model>`` below it); stages take those folders as arguments and read them with these."""

import argparse
from pathlib import Path

import numpy as np

from denoising.rows import read_rows

# Every data stage writes one array per split, named after it: train.npy and test.npy.
SPLITS = ("train", "test")
# A blind model (one for every level) is scored as "<model>-blind", beside the per-level ones.
BLIND_SUFFIX = "-blind"


def scored_models(models: list[str], blind_models: list[str]) -> list[str]:
    """The names that denoised outputs are stored and scored under: each per-level model, then
    each blind one as ``<model>-blind``."""
    return [*models, *(f"{model}{BLIND_SUFFIX}" for model in blind_models)]


def add_level_arguments(parser: argparse.ArgumentParser) -> None:
    """The folders of one noise level that compare and visualize read, and the level itself."""
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=float, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True, help="data/noisy/<level>")
    parser.add_argument("--denoised-dir", type=Path, required=True, help="data/denoised/<level>")
    parser.add_argument("--baselines-dir", type=Path, required=True, help="data/baselines/<level>")


def read_level(
    clean_dir: Path, noisy_dir: Path, denoised_dir: Path, models: list[str], rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Test images ``rows`` at one level: the clean originals, their noisy copies and each
    model's output (``denoised_dir/<model>/test.npy``), in that order, by name."""
    images = {
        "original": read_rows(clean_dir / "test.npy", rows),
        "noisy": read_rows(noisy_dir / "test.npy", rows),
    }
    for model in models:
        images[model] = read_rows(denoised_dir / model / "test.npy", rows)
    return images
