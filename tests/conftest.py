"""Shared fixtures: tiny, seeded image folders written to a temporary path."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


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


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A dataset folder with train/ (24 images) and test/ (8 images)."""
    write_digit_like_images(tmp_path / "train", 24, seed=1)
    write_digit_like_images(tmp_path / "test", 8, seed=2)
    return tmp_path
