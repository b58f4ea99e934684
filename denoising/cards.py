"""Model cards: a JSON sidecar beside each saved model that says how to use it correctly."""

import hashlib
from importlib.metadata import version
from pathlib import Path

PACKAGES = ("keras", "tensorflow", "numpy", "pillow")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, so a card pins the exact data it was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide how a model loads and computes."""
    return {name: version(name) for name in PACKAGES}
