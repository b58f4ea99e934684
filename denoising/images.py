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
# Files that file managers leave in image folders. They are listed as skipped, never "bad".
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
SYSTEM_FILE = "system or hidden file"
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
# What Pillow raises for a file it cannot read; anything else is a bug, and should show as one.
READ_ERRORS = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)


class ImageTooLarge(ValueError):
    """An image with more pixels than ``data.max_pixels`` allows."""


@dataclass
class LoadedFolder:
    """The images of one folder, the files they came from, and the files skipped with reasons."""

    images: np.ndarray
    files: list[str]
    skipped: list[dict]


def find_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, recursively, in a stable order (sorted relative paths)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; it must hold the images of this split")
    return sorted(
        (path for path in folder.rglob("*") if path.is_file()),
        key=lambda path: path.relative_to(folder).as_posix(),
    )


def load_grayscale(path: Path, shape: tuple[int, int], max_pixels: int) -> np.ndarray:
    """Load one image as float32 grayscale in [0, 1], resized to ``shape`` (height, width).

    EXIF orientation is applied, and a multi-frame file (GIF, TIFF) gives its first frame. The
    size is checked from the header, before any pixel is decoded.
    """
    height, width = shape
    with Image.open(path) as image:
        if image.width * image.height > max_pixels:
            raise ImageTooLarge(
                f"{image.width}x{image.height} is {image.width * image.height} pixels, "
                f"over data.max_pixels ({max_pixels})"
            )
        image = ImageOps.exif_transpose(image)
        if image.mode in WIDE_MODE_SCALE:
            pixels = np.asarray(image, dtype=np.float32) / WIDE_MODE_SCALE[image.mode]
            wide = Image.fromarray(np.clip(pixels, 0.0, 1.0))
            resized = wide.resize((width, height), Image.Resampling.BICUBIC)
            return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        gray = image.convert("L").resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(gray, dtype=np.float32) / 255.0


def skip_reason(path: Path) -> str | None:
    """Why ``path`` is not even tried as an image, or None if it should be."""
    if path.name.startswith(".") or path.name.lower() in SYSTEM_FILES:
        return SYSTEM_FILE
    if path.suffix.lower() not in EXTENSIONS:
        return "not an image file extension"
    return None


def load_folder(
    folder: Path,
    shape: tuple[int, int],
    on_error: str,
    max_pixels: int,
    paths: list[Path] | None = None,
) -> LoadedFolder:
    """Load every readable image under ``folder`` into an (N, height, width, 1) float32 array.

    ``paths`` are the files to read, as ``find_files(folder)`` lists them (found here if not
    given). With ``on_error="skip"``, a file that is not an image or that cannot be read is
    skipped and listed with the reason; with ``"fail"``, the first one stops loading with a
    ``UserError``. Hidden and system files (.DS_Store, Thumbs.db) are always skipped. A folder
    with no readable image is a ``UserError``.
    """
    paths = find_files(folder) if paths is None else paths
    arrays, files, skipped = [], [], []
    for path in tqdm(paths, desc=f"loading {folder}", unit="image", disable=None):
        name = path.relative_to(folder).as_posix()
        reason = skip_reason(path)
        if reason is None:
            try:
                arrays.append(load_grayscale(path, shape, max_pixels))
                files.append(name)
                continue
            except READ_ERRORS as error:
                reason = f"{type(error).__name__}: {error}"
        if on_error == "fail" and reason != SYSTEM_FILE:
            raise UserError(f"{path}: {reason} (data.on_error is 'fail'; 'skip' skips such files)")
        skipped.append({"file": name, "reason": reason})
    for entry in skipped:
        log.warning("skipped %s/%s: %s", folder, entry["file"], entry["reason"])
    if not arrays:
        raise UserError(f"{folder}: no readable image found (skipped {len(skipped)} files)")
    return LoadedFolder(np.stack(arrays)[..., np.newaxis], files, skipped)
