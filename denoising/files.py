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

# The time stamped on every entry of a zip file written here (a .keras model), so that the same
# model gives the same bytes.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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
    # mkstemp's random part is 8 characters: a.png's pattern must not match the temporary of
    # a.jpg.png, which another process may be writing this very moment.
    _remove_stale(f".{path.stem}.{'?' * 8}{suffix}", path.parent)
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
