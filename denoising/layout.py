"""Where the pipeline's data lives, named once: the splits of every array, and the names that
models are stored and scored under. ``dvc.yaml`` writes the same paths as ``data/<stage>/<level>``
(and ``/<model>`` below it); stages take those folders as arguments and read them with these."""

import argparse
from pathlib import Path

import numpy as np

from denoising.names import BLIND_SUFFIX, REAL, TRAIN_REFERENCES, parse_level
from denoising.rows import read_rows

# With real noise, data.dir may hold clean references of the test images, with the same relative
# names; preprocess reads them into test_clean.npy, and the scores are computed against them.
REFERENCES = "test_clean"
# A second noisy acquisition of each train image, with the same relative names: real pairs,
# for Noise2Noise (train.target noisy) with real noise; preprocess reads it into train_b.npy.
SECOND = "train_b"
# TRAIN_REFERENCES (names.py): clean references of real noisy train images, with the same
# relative names; preprocess reads them into train_clean.npy.
# Each partner folder of data.dir, and the split whose images it pairs with, file for file.
PARTNERS = {REFERENCES: "test", SECOND: "train", TRAIN_REFERENCES: "train"}
MISSING_SCORES = (
    f"no clean references (data.dir has no {REFERENCES}/ folder): PSNR and SSIM cannot be "
    "computed; the noise levels estimated before and after (sigma_*) are given instead"
)


def reference_file(clean_dir: Path, level: float | str) -> Path | None:
    """The clean test images that a level's results are scored against: the preprocessed test
    images for synthetic noise; for real noise, the references if data.dir had them, else None
    (nothing to score against)."""
    if level != REAL:
        return clean_dir / "test.npy"
    path = clean_dir / f"{REFERENCES}.npy"
    return path if path.is_file() else None


def scored_models(models: list[str], blind_models: list[str]) -> list[str]:
    """The names that denoised outputs are stored and scored under: each per-level model, then
    each blind one as ``<model>-blind``."""
    return [*models, *(f"{model}{BLIND_SUFFIX}" for model in blind_models)]


def add_level_arguments(parser: argparse.ArgumentParser) -> None:
    """The folders of one noise level that compare and visualize read, and the level itself."""
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=parse_level, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True, help="data/noisy/<level>")
    parser.add_argument("--denoised-dir", type=Path, required=True, help="data/denoised/<level>")
    parser.add_argument("--baselines-dir", type=Path, required=True, help="data/baselines/<level>")


def read_level(
    reference: Path | None,
    noisy_dir: Path,
    denoised_dir: Path,
    models: list[str],
    rows: np.ndarray,
) -> dict[str, np.ndarray]:
    """Test images ``rows`` at one level: the clean originals (left out when real noise has no
    references), their noisy copies and each model's output (``denoised_dir/<model>/test.npy``),
    in that order, by name."""
    images = {}
    if reference is not None:
        images["original"] = read_rows(reference, rows)
    images["noisy"] = read_rows(noisy_dir / "test.npy", rows)
    for model in models:
        images[model] = read_rows(denoised_dir / model / "test.npy", rows)
    return images
