"""Which files of a folder are tried as images: every file under it, in sorted order, walked
one folder at a time, and the rules that skip a file by its name or kind before it is opened.
Hidden and system files, names without an image extension, FIFOs, sockets and devices, and links
that lead back up the tree are listed as skipped, each with its reason."""

import os
from collections.abc import Iterator
from pathlib import Path

from denoising.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Files that file managers leave in image folders. They are listed as skipped, never "bad".
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
SYSTEM_FILE = "system or hidden file"
NOT_REGULAR = "not a regular file (a FIFO, socket, device or broken link)"
LINK_LOOP = "a link back to a folder above it (a loop); not followed"


def walk_files(folder: Path) -> Iterator[str]:
    """The relative paths ("a/b.png") of every file under ``folder``, recursively, sorted as
    strings, one at a time: memory holds one folder's entries, never the whole list, so a
    dataset of millions of files is walked in constant memory.

    Each folder's entries are sorted with a "/" after folder names and visited in that order,
    which is exactly the order ``sorted()`` gives the full paths. Links to folders are followed,
    except a link back to a folder that is being walked (a loop): that one is yielded as its name
    with a "/" at the end, which ``skip_reason`` lists as skipped.
    """
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; it must hold the images of this split")
    return _walk(str(folder), "", (os.path.realpath(folder),))


def _walk(directory: str, prefix: str, above: tuple[str, ...]) -> Iterator[str]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(_sort_key(entry) for entry in scan)
    except OSError as error:
        raise UserError(f"{directory}: cannot list this folder ({error.strerror})") from None
    for key, kind in entries:
        path = os.path.join(directory, key)
        if kind == "file":
            yield prefix + key
            continue
        # The real paths of the folders above (one call per folder, not per file) catch a
        # link that leads back up the tree.
        real = os.path.realpath(path)
        if kind == "link" and real in above:
            yield prefix + key
        else:
            yield from _walk(path, prefix + key, (*above, real))


def _sort_key(entry: os.DirEntry) -> tuple[str, str]:
    """(name, "file"), or (name + "/", "folder" or "link") for a folder or a link to one."""
    try:
        is_dir = entry.is_dir()
    except OSError:  # as in os.walk: an entry that cannot be checked counts as a file
        is_dir = False
    if not is_dir:
        return entry.name, "file"
    return entry.name + "/", "link" if entry.is_symlink() else "folder"


def list_files(folder: Path) -> list[str]:
    """``walk_files(folder)`` as a list."""
    return list(walk_files(folder))


def find_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, recursively, in a stable order (sorted relative paths)."""
    return [folder / name for name in list_files(folder)]


def irregular_reason(path: Path | str) -> str | None:
    """Why ``path`` cannot be opened as a file, or None: a FIFO would block the read forever."""
    return None if os.path.isfile(path) else NOT_REGULAR


def skip_reason(path: Path | str) -> str | None:
    """Why ``path`` is not even tried as an image, or None if it should be. (String functions,
    not ``Path``: preprocess asks this of every file in folders of millions.)"""
    if str(path).endswith("/"):
        return LINK_LOOP
    name = os.path.basename(path)
    if name.startswith(".") or name.lower() in SYSTEM_FILES:
        return SYSTEM_FILE
    if os.path.splitext(name)[1].lower() not in EXTENSIONS:
        return "not an image file extension"
    return None
