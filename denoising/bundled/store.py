"""Store a trained model for denoising only: float16 weights, float32 again when loaded.

Guarantee: ``half_weights(source, target)`` writes a ``.keras`` file that Keras loads as it
loads ``source`` with ``compile=False`` (same architecture, float32 variables), whose every
weight is the float16 value nearest to ``source``'s, and whose bytes depend only on
``source``'s (no timestamps), so the same model gives the same file. The optimizer's state
(Adam's two moments: twice the weights' size), which only further training reads, is left out;
nothing else changes but the float32 weights' precision.
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np

from denoising.files import FIXED_ZIP_TIME, atomic_path

WEIGHTS = "model.weights.h5"
OPTIMIZER = "optimizer"  # the weights file's group of the optimizer's variables


def _half(source: bytes) -> bytes:
    """An HDF5 weights file with every float32 dataset stored as float16 and the optimizer's
    state left out, the rest as it is."""
    buffer = io.BytesIO()
    # No creation-order tracking: it gives the root group a header that records the time.
    with h5py.File(io.BytesIO(source), "r") as old, h5py.File(buffer, "w") as new:

        def copy(name: str, item) -> None:
            if name.split("/")[0] == OPTIMIZER:
                return
            if isinstance(item, h5py.Dataset):
                data = item[()]
                if getattr(data, "dtype", None) == np.float32:
                    data = data.astype(np.float16)
                new.create_dataset(name, data=data, track_times=False)
            else:
                new.require_group(name)
            for key, value in item.attrs.items():
                new[name].attrs[key] = value

        old.visititems(copy)
        for key, value in old.attrs.items():
            new.attrs[key] = value
    return buffer.getvalue()


def half_weights(source: Path, target: Path) -> None:
    """Write ``source`` (a ``.keras`` file) to ``target`` with float16 weights, atomically."""
    with zipfile.ZipFile(source) as old, atomic_path(target) as pinned:
        with zipfile.ZipFile(pinned, "w", zipfile.ZIP_DEFLATED) as new:
            for entry in old.infolist():
                data = old.read(entry)
                data = _half(data) if entry.filename == WEIGHTS else data
                new.writestr(zipfile.ZipInfo(entry.filename, date_time=FIXED_ZIP_TIME), data)


def store_bundled(model_dir: Path, target: Path, trained: dict) -> None:
    """Store the pipeline's model in ``model_dir`` (model.keras and card.json) as a bundled
    model in ``target``: float16 weights, and the card with ``trained`` (how and where it was
    trained) added as its "bundled" section."""
    target.mkdir(parents=True, exist_ok=True)
    half_weights(model_dir / "model.keras", target / "model.keras")
    card = json.loads((model_dir / "card.json").read_text())
    card["bundled"] = {**card.get("bundled", {}), **trained}
    with atomic_path(target / "card.json") as pinned:
        pinned.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
