"""Model cards: a JSON sidecar beside each saved model that says how to use it correctly."""

import dataclasses
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

PACKAGES = ("keras", "tensorflow", "numpy", "pillow")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, so a card pins the exact data it was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide how a model loads and computes."""
    return {name: version(name) for name in PACKAGES}


def model_card(
    name: str,
    model_params,
    train,
    noise,
    corruption,
    seed: int,
    fitted,
    manifest: Path,
) -> dict:
    """The card saved beside a model: what it is (architecture, the input size it takes: its
    training size, or "any" for a fully convolutional model, and its size multiple), what it was
    trained on (the data folder, its mode and image or patch size from the manifest; noise at
    ``corruption.levels``, one level or a blind [low, high] range, and whether the model is told
    it; train and validation counts; the data
    manifest's SHA-256), how (``train``'s knobs, seed, epochs run,
    best validation loss: ``fitted``, a ``training.Fitted``) and with which package versions."""
    levels = corruption.levels
    level = {"range": levels} if isinstance(levels, list) else {"level": levels}
    data = json.loads(Path(manifest).read_text())
    return {
        # What it was trained on, for denoise-images' warning about images far from it.
        "data": {
            "dir": data["data_dir"],
            "mode": data["mode"],
            "image_shape": data["train"]["image_shape"],
            "images": data["train"]["count"],
        },
        "model": name,
        "architecture": dataclasses.asdict(model_params),
        "input_shape": list(fitted.image_shape) if model_params.fixed_size else "any",
        "size_multiple": model_params.size_multiple,
        "noise": {"type": noise.type, "clip": noise.clip, **level},
        # Whether it takes the noise level as an extra input channel (denoising/noise_map.py).
        "level_input": corruption.level_input,
        "train": dataclasses.asdict(train),
        "seed": seed,
        "train_images": fitted.counts[0],
        "validation_images": fitted.counts[1],
        "epochs_run": len(fitted.history["loss"]),
        "best_val_loss": min(fitted.history["val_loss"]),
        "data_manifest_sha256": file_sha256(manifest),
        "packages": package_versions(),
    }
