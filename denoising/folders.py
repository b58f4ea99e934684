"""Folder -> ``.npy``: decode a split's images on several cores, streamed into a preallocated
array on disk, in sorted file order whatever the number of workers."""

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
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

# Files per message to a worker: enough to make the messages' cost small next to decoding
# (at most BLOCK_FILES), with at most about BLOCK_BYTES of rows coming back per message.
BLOCK_FILES = 256
BLOCK_BYTES = 8 * 2**20


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

    def read_block(self, block: tuple[Path, list[tuple[int, str]]]) -> list[np.ndarray | str]:
        """``self((number, folder / name))`` for each (number, name) of a block of one folder."""
        folder, items = block
        return [self((number, folder / name)) for number, name in items]


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
        yield pool.imap


@dataclass
class SplitReport:
    """What went into one split's array: rows written, the files read, the files skipped."""

    rows: int
    files: list[str]
    skipped: list[dict]


def write_split(
    folder: Path, names: list[str], reader: Reader, out: Path, on_error: str, imap: Callable
) -> SplitReport:
    """Decode the files ``names`` (relative to ``folder``, sorted, as ``list_files`` gives
    them) with ``reader`` into ``out``, an (N, height, width, 1) float32 ``.npy``, never holding
    more than a few blocks of images in memory. ``imap`` is an ordered map, from ``mapper``.

    With ``on_error="skip"``, a file that is not an image or cannot be read is skipped and listed
    with the reason; with ``"fail"``, the first one is a ``UserError``. Hidden and system files
    are always skipped. A folder with no readable image is a ``UserError``.
    """
    files, skipped = [], []
    row_bytes = reader.per_image * reader.shape[0] * reader.shape[1] * 4
    block = max(1, min(BLOCK_FILES, BLOCK_BYTES // row_bytes))
    # Each image file's number among the image files seeds its patches: a stray notes.txt
    # does not change them.
    is_image = np.array([skip_reason(name) is None for name in names], dtype=bool)
    numbers = np.cumsum(is_image, dtype=np.int64) - 1
    writer = RowWriter(out, int(is_image.sum()) * reader.per_image, (*reader.shape, 1))
    # Files travel to the workers, and rows back, in blocks: one message and one write per
    # block rather than per (small) image. Blocks are made as they are needed.
    blocks = (
        (
            folder,
            [(int(numbers[i]), names[i]) for i in range(start, min(start + block, len(names)))],
        )
        for start in range(0, len(names), block)
    )
    progress = tqdm(total=len(names), desc=f"reading {folder}", unit="file", disable=None)
    with progress:
        # Every file goes through the reader, in order, so that with on_error "fail" the first
        # bad file in sorted order is the one named, whatever makes it bad.
        starts = range(0, len(names), block)
        for start, results in zip(starts, imap(reader.read_block, blocks), strict=True):
            good = []
            for name, rows in zip(names[start : start + block], results, strict=True):
                if isinstance(rows, str):
                    skipped.append(_skip(folder, name, rows, on_error))
                else:
                    good.append(rows)
                    files.append(name)
            if good:
                writer.write(np.concatenate(good)[..., np.newaxis])
            progress.update(len(results))
    writer.close()
    for entry in skipped:
        log.warning("skipped %s/%s: %s", folder, entry["file"], entry["reason"])
    if not files:
        raise UserError(f"{folder}: no readable image found (skipped {len(skipped)} files)")
    return SplitReport(writer.count, files, skipped)


def _skip(folder: Path, name: str, reason: str, on_error: str) -> dict:
    """The manifest entry for a skipped file; under ``on_error="fail"``, a ``UserError``."""
    if on_error == "fail" and reason != SYSTEM_FILE:
        raise UserError(
            f"{folder / name}: {reason} (data.on_error is 'fail'; 'skip' skips such files)"
        )
    return {"file": name, "reason": reason}
