"""Atomic writes and safe reads, so a failed or interrupted stage never leaves half a file."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from denoising.errors import UserError

# Every data stage writes one array per split, named after it: train.npy and test.npy.
SPLITS = ("train", "test")


def _remove_stale(pattern: str, parent: Path) -> None:
    """Remove temporaries that a run killed with no chance to clean up (kill -9) left behind."""
    for stale in parent.glob(pattern):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps the suffix, because some writers (Keras) choose a format by it.
    suffix = f"{path.suffix}.tmp{path.suffix}"
    _remove_stale(f".{path.stem}.*{suffix}", path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; it becomes ``path`` only if the block
    succeeds, so a failed or killed stage never leaves a folder with some of its files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(f".{path.name}.tmp-*", path.parent)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield temporary
        if path.exists():
            shutil.rmtree(path)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file, atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def load_array(path: Path) -> np.ndarray:
    """Read a ``.npy`` file; pickled objects are refused."""
    return np.load(path, allow_pickle=False)


def save_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON with sorted keys, atomically, so diffs stay readable."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def load_json(path: Path) -> dict:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


class RowWriter:
    """Write a ``.npy`` file of ``capacity`` rows one block at a time, with bounded memory.

    The file is preallocated with ``open_memmap`` (so its header and size are right from the
    start), then filled with plain file writes: pages written through a memory map would count
    in the process's resident memory until the end, and that would grow with the dataset.
    """

    def __init__(self, path: Path, capacity: int, row_shape: tuple[int, ...]):
        self.path, self.capacity, self.row_shape = Path(path), capacity, tuple(row_shape)
        mapped = np.lib.format.open_memmap(
            self.path, mode="w+", dtype=np.float32, shape=(capacity, *self.row_shape)
        )
        self.offset = mapped.offset
        del mapped
        self.handle = open(self.path, "r+b")
        self.handle.seek(self.offset)
        self.count = 0

    def write(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape (k, *row_shape)) after those already written."""
        if self.count + len(rows) > self.capacity:
            # Preprocess counts the files before reading them: a folder that grew in between.
            raise UserError(
                f"{self.path}: more rows than the {self.capacity} planned; did the input files "
                "change while the stage ran? Run it again"
            )
        self.handle.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())
        self.count += len(rows)

    def close(self) -> None:
        """Finish the file; if fewer rows came than planned (skipped files), cut it to size."""
        self.handle.close()
        if self.count == self.capacity:
            return
        shorter = RowWriter(
            self.path.with_name(f".{self.path.name}.shrink"), self.count, self.row_shape
        )
        for start in range(0, self.count, 4096):
            shorter.write(read_rows(self.path, slice(start, min(start + 4096, self.count))))
        shorter.close()
        os.replace(shorter.path, self.path)


def read_rows(path: Path, index) -> np.ndarray:
    """Rows ``index`` (a slice or indices) of a ``.npy`` file, read from disk."""
    return RowFile(path)[index]


# Stages stream arrays in chunks of about this many bytes: a small dataset is one chunk, read
# whole as before, and a large one never has more than this in memory at once.
CHUNK_BYTES = 64 * 2**20


class RowFile:
    """A ``.npy`` file that reads only the rows asked for, as ``file[rows]``, so a training
    set larger than memory can be batched from disk.

    Rows are read with plain file reads, one per run of consecutive rows. Fancy indexing on a
    NumPy memory map would map the whole file into the process for the time of the read, and
    the peak memory would then grow with the file.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(handle)
            else:
                header = np.lib.format.read_array_header_2_0(handle)
            self.offset = handle.tell()
        self.shape, fortran_order, self.dtype = header
        if fortran_order:
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not supported")
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def chunks(self) -> Iterator[slice]:
        """Consecutive slices of rows that cover the file, each about ``CHUNK_BYTES``."""
        step = max(1, CHUNK_BYTES // max(1, self.row_bytes))
        for start in range(0, len(self), step):
            yield slice(start, min(start + step, len(self)))

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            rows = np.arange(start, stop, step)
        else:
            rows = np.asarray(index, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):  # no wrap-around
            raise IndexError(f"{self.path}: rows out of range 0..{len(self) - 1}")
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if not len(rows):
            return out
        # Runs of consecutive rows, each read with one call (pread: no seek, and no lock on
        # Python's side while the disk reads, so other threads run meanwhile).
        starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)
        ends = np.append(starts[1:], len(rows))
        buffer = memoryview(out).cast("B")
        firsts, lasts = (starts * self.row_bytes).tolist(), (ends * self.row_bytes).tolist()
        offsets = (self.offset + rows[starts] * self.row_bytes).tolist()
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            for first, last, offset in zip(firsts, lasts, offsets, strict=True):
                if os.preadv(descriptor, [buffer[first:last]], offset) != last - first:
                    raise UserError(f"{self.path}: shorter than its header says; rerun its stage")
        finally:
            os.close(descriptor)
        return out
