"""Atomic writes and safe reads, so a failed or interrupted stage never leaves half a file."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

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
