"""Atomic writes and safe reads, so a failed or interrupted stage never leaves half a file."""

import io
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


def _umask() -> int:
    """The process's umask. It can only be read by setting it, so it is set straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_mode(path: Path, mode: int) -> None:
    """Give a temporary the permissions that a plain ``open()`` or ``mkdir()`` would have:
    ``mkstemp`` and ``mkdtemp`` make them private (0600, 0700), which would lock a shared
    results folder or model away from the group."""
    os.chmod(path, mode & ~_umask())


def _remove_stale(pattern: str, parent: Path) -> None:
    """Remove temporaries that a run killed with no chance to clean up (kill -9) left behind."""
    for stale in parent.glob(pattern):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


# The names of the temporaries that atomic_path and atomic_dir make: hidden, with ".tmp".
TEMPORARY_PATTERNS = (".*.tmp-*", ".*.tmp.*")


def remove_stale_temporaries(roots: list[Path]) -> list[Path]:
    """Remove the temporaries that killed stages (kill -9) left anywhere under each of ``roots``
    or directly beside it (where ``atomic_dir`` puts the temporary of a whole folder), and
    return them. Only for a time when no stage is writing, such as the pipeline's first stage."""
    places = [(Path(root), "**/") for root in roots] + [(Path(root).parent, "") for root in roots]
    found = {
        stale
        for folder, depth in places
        if folder.is_dir()
        for pattern in TEMPORARY_PATTERNS
        for stale in folder.glob(depth + pattern)
    }
    for stale in sorted(found, reverse=True):  # inner ones first
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    return sorted(found)


@contextmanager
def atomic_path(path: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    With ``overwrite=False`` an existing ``path`` is never replaced, even one that appeared
    while the block ran: the temporary is linked into place, which fails if the name is taken,
    and that is a ``UserError`` naming it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name keeps the suffix, because some writers (Keras) choose a format by it.
    suffix = f"{path.suffix}.tmp{path.suffix}"
    _remove_stale(f".{path.stem}.*{suffix}", path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(handle)
    temporary = Path(temporary)
    _open_mode(temporary, 0o666)
    try:
        yield temporary
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise UserError(
                    f"{path}: already exists; nothing was written over it (--overwrite allows it)"
                ) from None
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
    _open_mode(temporary, 0o777)
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
