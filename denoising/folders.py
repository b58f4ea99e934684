"""Folder -> ``.npy``: decode a split's images on several cores, streamed into a preallocated
array on disk, in sorted file order whatever the number of workers. Memory stays bounded: files
are walked one folder at a time, a few blocks are in flight, and the list of files read goes to
disk as it grows."""

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from denoising.errors import UserError
from denoising.images import (
    ALPHA_DROPPED,
    GREY_REPEATED,
    READ_ERRORS,
    center_crop,
    load_grayscale,
    load_native,
    load_rgb,
    random_patches,
)
from denoising.layout import PARTNERS, REFERENCES
from denoising.listing import SYSTEM_FILE, irregular_reason, skip_reason, walk_files
from denoising.params import DataParams
from denoising.rows import RowWriter

log = logging.getLogger(__name__)

# Files per message to a worker: enough to make the messages' cost small next to decoding
# (at most BLOCK_FILES), with at most about BLOCK_BYTES of rows coming back per message.
BLOCK_FILES = 256
BLOCK_BYTES = 8 * 2**20
# Blocks sent ahead per worker: enough to keep every worker busy, few enough that results
# waiting to be written stay within a few times BLOCK_BYTES.
AHEAD = 4


@dataclass(frozen=True)
class Reader:
    """How one file becomes rows of the array: ``resize`` (the whole image, resized), ``patches``
    (``per_image`` seeded random patches at native resolution) or ``crop`` (the centre), with
    ``channels`` 1 (grey) or 3 (R, G, B)."""

    mode: str
    shape: tuple[int, int]
    max_pixels: int
    per_image: int = 1
    seed: int = 0
    channels: int = 1

    def read(self, path: str, name: str) -> tuple[np.ndarray, list[str]] | str:
        """Rows (k, height, width, channels) for the file ``name`` at ``path``, with what was
        done to make it R, G, B (``images.load_rgb``), or why it cannot be read.

        Patches come from a generator seeded with (seed, a hash of ``name``), so they depend on
        neither the worker that cuts them nor the other files in the folder.
        """
        reason = skip_reason(name) or irregular_reason(path)
        if reason is not None:
            return reason
        try:
            image, notes = self.load(path)
            if self.mode == "resize":
                return image[np.newaxis], notes
            if self.mode == "crop":
                return center_crop(image, self.shape[0])[np.newaxis], notes
            rng = np.random.default_rng([self.seed, name_key(name)])
            return random_patches(image, self.shape[0], self.per_image, rng), notes
        except READ_ERRORS as error:
            return f"{type(error).__name__}: {error}"

    def load(self, path: str) -> tuple[np.ndarray, list[str]]:
        """The whole image, (height, width, channels): resized in mode ``resize``, else at its
        own size."""
        if self.channels == 3:
            return load_rgb(path, self.shape if self.mode == "resize" else None, self.max_pixels)
        if self.mode == "resize":
            return load_grayscale(path, self.shape, self.max_pixels)[..., np.newaxis], []
        return load_native(path, self.max_pixels)[..., np.newaxis], []

    def read_block(self, block: tuple[str, list[str]]) -> "Block":
        """Read each file of a block (a folder and names in it) and stack the rows: one
        message back per block, not per (small) image."""
        folder, names = block
        results = [self.read(os.path.join(folder, name), name) for name in names]
        read = [result for result in results if not isinstance(result, str)]
        reasons = [result if isinstance(result, str) else None for result in results]
        rows = np.concatenate([rows for rows, _ in read]) if read else None
        notes = Counter(note for _, notes in read for note in notes)
        return Block(names, rows, reasons, notes)


@dataclass
class Block:
    """A block of files, read: their names, the rows of those read (stacked), for each file
    None (read) or why it was skipped, and how many files had each note of ``load_rgb``."""

    names: list[str]
    rows: np.ndarray | None
    reasons: list[str | None]
    notes: Counter


def name_key(name: str) -> int:
    """A stable 64-bit number for a file name, to seed that file's patches."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def cpu_count() -> int:
    """The cores this process may use (fewer than the machine's under a CPU affinity mask)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@contextmanager
def mapper(workers: int) -> Iterator[Callable]:
    """An ordered, lazy ``map``: in this process for one worker, else over a process pool that
    is sent at most ``AHEAD`` items per worker beyond the results taken, so memory stays bounded
    however far the workers could run ahead of the writing."""
    if workers == 1:
        yield map
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:

        def imap(function: Callable, items: Iterable) -> Iterator:
            pending = deque()
            for item in items:
                pending.append(pool.apply_async(function, (item,)))
                if len(pending) >= AHEAD * workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

        yield imap


@dataclass
class FolderCount:
    """How many files a split's folder holds, and how many of them look like images."""

    files: int
    images: int


def data_root(params: DataParams) -> Path:
    """``data.dir``, which must be a folder (holding train/ and test/)."""
    root = Path(params.dir)
    if not root.is_dir():
        raise UserError(
            f"data.dir: folder '{root}' not found; it must be a folder holding train/ and test/"
        )
    return root


def count_files(folder: Path) -> FolderCount:
    """Count the files under ``folder``: a first walk, so that the array can be sized."""
    files = images = 0
    for name in walk_files(folder):
        files += 1
        images += skip_reason(name) is None
    return FolderCount(files, images)


@dataclass
class SplitReport:
    """What went into one split's array: rows written, files read (their list is in the
    listing file, with its SHA-256 here), and the files skipped."""

    rows: int
    files: int
    files_sha256: str
    skipped: list[dict]
    notes: dict | None = None

    def manifest_entry(self, split: str, shape: tuple) -> dict:
        """The split's entry in the manifest, its arrays' images of ``shape``; in an rgb run,
        how many grey images were repeated into three channels and how many lost an alpha."""
        entry = {
            "count": self.files,
            "rows": self.rows,
            "image_shape": list(shape),
            "files": f"{split}_files.jsonl",
            "files_sha256": self.files_sha256,
            "skipped": self.skipped,
        }
        return entry if self.notes is None else entry | self.notes


def write_split(
    folder: Path,
    count: FolderCount,
    reader: Reader,
    out: Path,
    listing: Path,
    on_error: str,
    imap: Callable,
) -> SplitReport:
    """Decode every file under ``folder`` (``count``, from ``count_files``) with ``reader``
    into ``out``, an (N, height, width, channels) float32 ``.npy``, and the names of the files read
    into ``listing``, one JSON string a line, in sorted order. ``imap`` is an ordered map, from
    ``mapper``.

    With ``on_error="skip"``, a file that is not an image or cannot be read is skipped and listed
    with the reason; with ``"fail"``, the first one is a ``UserError``. Hidden and system files
    are always skipped. A folder with no readable image is a ``UserError``.
    """
    files, skipped, digest, notes = 0, [], hashlib.sha256(), Counter()
    row_bytes = reader.per_image * reader.shape[0] * reader.shape[1] * reader.channels * 4
    size = max(1, min(BLOCK_FILES, BLOCK_BYTES // row_bytes))
    writer = RowWriter(out, count.images * reader.per_image, (*reader.shape, reader.channels))
    progress = tqdm(total=count.files, desc=f"reading {folder}", unit="file", disable=None)
    with progress, open(listing, "w", encoding="ascii") as listed:
        # Every file goes through the reader, in order, so that with on_error "fail" the first
        # bad file in sorted order is the one named, whatever makes it bad.
        for block in imap(reader.read_block, _blocks(folder, size)):
            good = []
            for name, reason in zip(block.names, block.reasons, strict=True):
                if reason is None:
                    good.append(json.dumps(name) + "\n")
                else:
                    skipped.append(_skip(folder, name, reason, on_error))
            if block.rows is not None:
                writer.write(block.rows)
            notes.update(block.notes)
            text = "".join(good)
            listed.write(text)
            digest.update(text.encode("ascii"))
            files += len(good)
            progress.update(len(block.names))
    writer.close()
    for entry in skipped:
        log.warning("skipped %s/%s: %s", folder, entry["file"], entry["reason"])
    if not files:
        raise UserError(f"{folder}: no readable image found (skipped {len(skipped)} files)")
    said = None
    if reader.channels == 3:
        said = {note: notes[note] for note in (GREY_REPEATED, ALPHA_DROPPED)}
        if any(said.values()):
            log.info(
                "%s: %d grey images repeated into R, G, B; %d alpha channels dropped",
                folder,
                said[GREY_REPEATED],
                said[ALPHA_DROPPED],
            )
    return SplitReport(writer.count, files, digest.hexdigest(), skipped, said)


def _blocks(folder: Path, size: int) -> Iterator[tuple[str, list[str]]]:
    """The files under ``folder`` in sorted order, ``size`` names at a time, made as needed."""
    names = walk_files(folder)
    while block := list(itertools.islice(names, size)):
        yield str(folder), block


def _skip(folder: Path, name: str, reason: str, on_error: str) -> dict:
    """The manifest entry for a skipped file; under ``on_error="fail"``, a ``UserError``."""
    if on_error == "fail" and reason != SYSTEM_FILE:
        raise UserError(
            f"{folder / name}: {reason} (data.on_error is 'fail'; 'skip' skips such files)"
        )
    return {"file": name, "reason": reason}


def check_disk_space(
    out_dir: Path, split_readers: dict[str, Reader], counts: dict[str, FolderCount]
) -> None:
    """Fail before decoding anything if both splits' arrays (float32) cannot fit together on
    the output's disk."""
    needed = sum(
        counts[split].images
        * reader.per_image
        * reader.shape[0]
        * reader.shape[1]
        * 4
        * reader.channels
        for split, reader in split_readers.items()
    )
    existing = next(folder for folder in [out_dir, *out_dir.parents] if folder.exists())
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise UserError(
            f"{out_dir}: the arrays need about {needed / 1e9:.2f} GB for "
            f"{sum(count.images for count in counts.values())} images, and only "
            f"{free / 1e9:.2f} GB is free"
        )


def readers(params: DataParams, seed: int, partners: tuple[str, ...] = ()) -> dict[str, Reader]:
    """How each split is read: both resized whole (the original design), or, in mode
    ``patches``, random native-resolution patches for train and a fixed centre crop for test.
    Each of ``partners`` (names from ``layout.PARTNERS``: clean test references, second
    acquisitions or clean references of the train images) is read as its split is."""
    channels = params.channels
    if params.mode == "resize":
        whole = Reader("resize", params.shape, params.max_pixels, channels=channels)
        found = {"train": whole, "test": whole}
    else:
        patch, crop = (params.patch_size,) * 2, (params.test_crop,) * 2
        per_image = params.patches_per_image
        found = {
            "train": Reader("patches", patch, params.max_pixels, per_image, seed, channels),
            "test": Reader("crop", crop, params.max_pixels, channels=channels),
        }
    for partner in partners:
        found[partner] = found[PARTNERS[partner]]
    return found


def check_partners(root: Path, out_dir: Path, split: str, partner: str) -> None:
    """Fail unless the images read from ``partner`` (a ``PARTNERS`` folder) are those read from
    ``split``, file for file: the same relative names, in the same order. Test references may
    differ in extension; partners of the train images (second acquisitions, clean references)
    may not, since a training patch's place comes from its file name."""
    names = {}
    for folder in (split, partner):
        lines = (out_dir / f"{folder}_files.jsonl").read_text().splitlines()
        paths = [Path(json.loads(line)) for line in lines]
        names[folder] = [str(p.with_suffix("") if partner == REFERENCES else p) for p in paths]
    mine, theirs = names[split], names[partner]
    for index in range(max(len(mine), len(theirs))):
        ours = mine[index] if index < len(mine) else None
        other = theirs[index] if index < len(theirs) else None
        if ours != other:
            if other is None or (ours is not None and ours < other):
                missing, folder = ours, partner
            else:
                missing, folder = other, split
            kind = "(any extension)" if partner == REFERENCES else "(the same extension)"
            raise UserError(
                f"{root / folder}: no image named like {missing} {kind}; every image of "
                f"{split}/ needs a partner in {partner}/ with the same relative name, and every "
                f"image of {partner}/ one in {split}/"
            )
