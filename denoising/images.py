"""Folder -> array: find image files, load them as grayscale, resize, scale to [0, 1]."""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from denoising.errors import UserError

log = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Pillow's convert("L") clips 16- and 32-bit integer pixels at 255 instead of scaling them, so
# these modes are scaled by hand: integers from the 16-bit range, floats as already in [0, 1].
WIDE_MODE_SCALE = {
    "I": 65535.0,
    "I;16": 65535.0,
    "I;16B": 65535.0,
    "I;16L": 65535.0,
    "I;16N": 65535.0,
    "F": 1.0,
}


@dataclass
class LoadedFolder:
    """The images of one folder, the files they came from, and the files skipped with reasons."""

    images: np.ndarray
    files: list[str]
    skipped: list[dict]


def find_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, recursively, in a stable order (sorted relative paths)."""
    return sorted(
        (path for path in folder.rglob("*") if path.is_file()),
        key=lambda path: path.relative_to(folder).as_posix(),
    )


def load_grayscale(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Load one image as float32 grayscale in [0, 1], resized to ``shape`` (height, width).

    EXIF orientation is applied, and a multi-frame file (GIF, TIFF) gives its first frame.
    """
    height, width = shape
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in WIDE_MODE_SCALE:
            pixels = np.asarray(image, dtype=np.float32) / WIDE_MODE_SCALE[image.mode]
            wide = Image.fromarray(np.clip(pixels, 0.0, 1.0))
            resized = wide.resize((width, height), Image.Resampling.BICUBIC)
            return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        gray = image.convert("L").resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(gray, dtype=np.float32) / 255.0


def load_folder(folder: Path, shape: tuple[int, int]) -> LoadedFolder:
    """Load every readable image under ``folder`` into an (N, height, width, 1) float32 array.

    Files that are not images, or that Pillow cannot decode, are skipped and listed with the
    reason. A folder with no readable image at all is a ``UserError``.
    """
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; it must hold the images of this split")
    arrays, files, skipped = [], [], []
    for path in tqdm(find_files(folder), desc=f"loading {folder}", unit="image", disable=None):
        name = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in EXTENSIONS:
            skipped.append({"file": name, "reason": "not an image file extension"})
            continue
        try:
            arrays.append(load_grayscale(path, shape))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            skipped.append({"file": name, "reason": f"{type(err).__name__}: {err}"})
            continue
        files.append(name)
    for entry in skipped:
        log.warning("skipped %s/%s: %s", folder, entry["file"], entry["reason"])
    if not arrays:
        raise UserError(f"{folder}: no readable image found (skipped {len(skipped)} files)")
    return LoadedFolder(np.stack(arrays)[..., np.newaxis], files, skipped)
