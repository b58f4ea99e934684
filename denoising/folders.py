"""Folder -> ``.npy``: decode a split's images on several cores, streamed into a preallocated
array on disk, in sorted file order whatever the number of workers."""

import logging
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from denoising.errors import UserError
from denoising.files import RowWriter
from denoising.images import (
    READ_ERRORS,
    SYSTEM_FILE,
    center_crop,
    load_grayscale,
    load_native,
    random_patches,
    skip_reason,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reader:
    """How one file becomes rows of the array: ``resize`` (the whole image, resized), ``patches``
    (``per_image`` seeded random patches at native resolution) or ``crop`` (the centre)."""

    mode: str
    shape: tuple[int, int]
    max_pixels: int
    per_image: int = 1
    seed: int = 0

    def __call__(self, item: tuple[int, Path]) -> np.ndarray | str:
        """Rows (k, height, width) for file number ``index``, or why it cannot be read.

        Patches come from a generator seeded with (seed, index), so they do not depend on which
        worker cuts them.
        """
        index, path = item
        reason = skip_reason(path)
        if reason is not None:
            return reason
        try:
            if self.mode == "resize":
                return load_grayscale(path, self.shape, self.max_pixels)[np.newaxis]
            image = load_native(path, self.max_pixels)
            if self.mode == "crop":
                return center_crop(image, self.shape[0])[np.newaxis]
            rng = np.random.default_rng([self.seed, index])
            return random_patches(image, self.shape[0], self.per_image, rng)
        except READ_ERRORS as error:
            return f"{type(error).__name__}: {error}"


def cpu_count() -> int:
    """The cores this process may use (fewer than the machine's under a CPU affinity mask)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@contextmanager
def mapper(workers: int) -> Iterator:
    """An ordered, lazy ``map``: in this process for one worker, else over a process pool."""
    if workers == 1:
        yield map
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield lambda function, items: pool.imap(function, items, chunksize=16)


@dataclass
class SplitReport:
    """What went into one split's array: rows written, the files read, the files skipped."""

    rows: int
    files: list[str]
    skipped: list[dict]


def write_split(
    folder: Path, paths: list[Path], reader: Reader, out: Path, on_error: str, workers: int
) -> SplitReport:
    """Decode ``paths`` (files under ``folder``, sorted) with ``reader`` into ``out``, an
    (N, height, width, 1) float32 ``.npy``, never holding more than a few images in memory.

    With ``on_error="skip"``, a file that is not an image or cannot be read is skipped and listed
    with the reason; with ``"fail"``, the first one is a ``UserError``. Hidden and system files
    are always skipped. A folder with no readable image is a ``UserError``.
    """
    files, skipped = [], []
    # Each image file's number among the image files seeds its patches: a stray notes.txt
    # does not change them.
    is_image = [skip_reason(path) is None for path in paths]
    numbers = np.cumsum(is_image) - 1
    writer = RowWriter(out, sum(is_image) * reader.per_image, (*reader.shape, 1))
    with mapper(workers) as imap:
        # Every file goes through the reader, in order, so that with on_error "fail" the first
        # bad file in sorted order is the one named, whatever makes it bad.
        results = imap(reader, zip(numbers.tolist(), paths, strict=True))
        progress = tqdm(
            zip(paths, results, strict=True),
            total=len(paths),
            desc=f"reading {folder}",
            unit="file",
            disable=None,
        )
        for path, rows in progress:
            if isinstance(rows, str):
                skipped.append(_skip(folder, path, rows, on_error))
                continue
            writer.write(rows[..., np.newaxis])
            files.append(path.relative_to(folder).as_posix())
    writer.close()
    for entry in skipped:
        log.warning("skipped %s/%s: %s", folder, entry["file"], entry["reason"])
    if not files:
        raise UserError(f"{folder}: no readable image found (skipped {len(skipped)} files)")
    return SplitReport(writer.count, files, skipped)


def _skip(folder: Path, path: Path, reason: str, on_error: str) -> dict:
    """The manifest entry for a skipped file; under ``on_error="fail"``, a ``UserError``."""
    if on_error == "fail" and reason != SYSTEM_FILE:
        raise UserError(f"{path}: {reason} (data.on_error is 'fail'; 'skip' skips such files)")
    return {"file": path.relative_to(folder).as_posix(), "reason": reason}
