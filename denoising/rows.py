"""The ``.npy`` row engine: write an array a block of rows at a time, and read any rows back,
with memory bounded by the block, so datasets larger than memory stream through the stages."""

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from denoising.errors import UserError


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
        """Finish the file; if fewer rows came than planned (skipped files), cut it to size in
        place: a new header, then truncation, so no second copy ever needs the disk."""
        if self.count < self.capacity:
            header = npy_header(self.count, self.row_shape, self.offset)
            self.handle.seek(0)
            self.handle.write(header)
            self.handle.truncate(self.offset + self.count * int(np.prod(self.row_shape)) * 4)
        self.handle.close()


def npy_header(rows: int, row_shape: tuple[int, ...], length: int) -> bytes:
    """The ``.npy`` (version 1.0) header of a float32 array of ``rows`` rows, padded with spaces
    to exactly ``length`` bytes, so it can replace a header of that length in place. A smaller
    first dimension never needs more room than the header it replaces."""
    buffer = io.BytesIO()
    fields = {"descr": "<f4", "fortran_order": False, "shape": (rows, *row_shape)}
    np.lib.format.write_array_header_1_0(buffer, fields)
    header = buffer.getvalue()
    if len(header) == length:
        return header
    # NumPy pads to a multiple of 64; here the padding is ours, ending in a newline as it must.
    magic = header[:8]
    text = header[10:].rstrip(b" \n")
    body = text + b" " * (length - 10 - len(text) - 1) + b"\n"
    return magic + len(body).to_bytes(2, "little") + body


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

    def chunks(self, multiple: int = 1) -> Iterator[slice]:
        """Consecutive slices of rows that cover the file, each about ``CHUNK_BYTES``, and a
        whole number of ``multiple`` rows (all but the last): a model that predicts in batches
        of ``multiple`` then sees the same batches, and gives the same bytes, however the file
        is chunked."""
        step = max(1, CHUNK_BYTES // max(1, self.row_bytes))
        step = max(multiple, step - step % multiple)
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
