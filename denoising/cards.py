"""Model cards: a JSON sidecar (``card.json``) beside each saved model that says how to use it
correctly. Written here by the train stage, and read here by every reader (``denoise-images``,
the denoise stage, the apply stage's choice), always validated: a card that cannot be trusted
stops the reader in one line that names the card and the key.
"""

import dataclasses
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

from denoising.errors import UserError
from denoising.files import load_json
from denoising.names import SELF_SUPERVISED

CARD = "card.json"
# A model denoises grey images (one channel) or colour ones (R, G, B).
CHANNELS = (1, 3)
# The correction a card may ask for: its outputs mapped through the inverse of this mean.
CLIPPED_MEAN = "clipped-gaussian-mean"
# Training targets that are noisy themselves, so a model learns their mean (Noise2Noise, and the
# self-supervised ones).
NOISY_TARGETS = ("noisy", *SELF_SUPERVISED)

PACKAGES = ("keras", "tensorflow", "numpy", "pillow")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, so a card pins the exact data it was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide how a model loads and computes."""
    return {name: version(name) for name in PACKAGES}


def asks_for_correction(target: str, noise_type: str, clip: bool, loss: str, levels) -> bool:
    """Whether a model trained against ``target`` on simulated noise learns the clipped Gaussian
    mean at one known level, so that its card asks for that mean's inverse: a noisy target, and
    Gaussian noise at one level (not a blind range), clipped, or unclipped under binary
    cross-entropy, which counts targets outside [0, 1] as 0 or 1 (``train.losses``)."""
    clipped = clip or loss == "binary_crossentropy"
    learned_mean = target in NOISY_TARGETS and noise_type == "gaussian" and clipped
    return learned_mean and not isinstance(levels, list)


def model_card(
    name: str,
    model_params,
    train,
    noise,
    corruption,
    seed: int,
    fitted,
    manifest: Path,
    clipping=None,
) -> dict:
    """The card saved beside a model: what it is (architecture, the input size it takes: its
    training size, or "any" for a fully convolutional model, and its size multiple), what it was
    trained on (the data folder, its mode and image or patch size from the manifest; noise at
    ``corruption.levels``, one level or a blind [low, high] range, and whether the model is told
    it; train and validation counts; the data
    manifest's SHA-256), how (``train``'s knobs, seed, epochs run,
    best validation loss: ``fitted``, a ``training.Fitted``) and with which package versions.
    ``clipping`` (a ``real_clipping.RealClipping``, for real noise) is how much the real noisy
    training images clip, and the estimated sigma its correction is made at."""
    levels = corruption.levels
    level = {"range": levels} if isinstance(levels, list) else {"level": levels}
    fixed = asks_for_correction(train.target, noise.type, noise.clip, train.loss, levels)
    debiased = {"correction": {"inverts": CLIPPED_MEAN, "sigma": levels}} if fixed else {}
    if clipping is not None:  # Real noise: corrected where the images clip, at a sigma estimated.
        debiased = {"real_clipping": {"share": clipping.share, "sigma": clipping.sigma}}
        if clipping.sigma is not None:
            debiased["correction"] = {"inverts": CLIPPED_MEAN, "sigma": clipping.sigma}
    data = json.loads(Path(manifest).read_text())
    channels = fitted.image_shape[-1]
    # A colour model says so; a grey card is as the original design wrote it (channels 1).
    colour = {} if channels == 1 else {"channels": channels}
    return {
        **colour,
        **debiased,
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


def read_card(model: Path) -> tuple[Path, dict]:
    """The model file and its card; a model without a card is refused, since nothing else says
    what input it takes. The card is validated as strictly as ``params.yaml``."""
    path = model / "model.keras" if model.is_dir() else model
    if not path.is_file():
        raise UserError(f"{model}: no model file here; give a model.keras or its folder")
    card_path = path.with_name(CARD)
    if not card_path.is_file():
        raise UserError(
            f"{path}: no card.json beside it; denoise-images only runs models trained by this "
            "pipeline, whose card says what input they take"
        )
    return path, check_card(card_path)


# What denoise-images reads from a card, and what each key must be.
CARD_RULES = {
    "model": (lambda v: isinstance(v, str) and v != "", "a model name (a non-empty string)"),
    "input_shape": (
        lambda v: (
            v == "any"
            or (
                isinstance(v, list)
                and len(v) == 3
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in v)
                and v[2] in CHANNELS
            )
        ),
        '"any", or [height, width, channels] of positive integers, channels 1 or 3',
    ),
    "size_multiple": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
}


def check_card(card_path: Path) -> dict:
    """Read and validate a card: one ``UserError`` line naming the card and the key."""
    try:
        card = load_json(card_path)
    except (ValueError, OSError) as error:  # JSONDecodeError and UnicodeDecodeError included
        raise UserError(f"{card_path}: not a readable JSON model card ({error})") from None
    if not isinstance(card, dict):
        raise UserError(f"{card_path}: not a model card: expected a JSON object")
    problems = []
    for key, (check, allowed) in CARD_RULES.items():
        if key not in card:
            problems.append(f"{card_path}: {key}: missing; it must be {allowed}")
        elif not check(card[key]):
            value = card[key]
            problems.append(f"{card_path}: {key}: {value!r} is not allowed; it must be {allowed}")
    if not isinstance(card.get("level_input", False), bool):
        value = card["level_input"]
        problems.append(f"{card_path}: level_input: {value!r} is not allowed; it must be a bool")
    entry = card.get("correction")
    if entry is not None and not (
        isinstance(entry, dict)
        and entry.get("inverts") == CLIPPED_MEAN
        and isinstance(entry.get("sigma"), (int, float))
        and not isinstance(entry.get("sigma"), bool)
        and 0 <= entry["sigma"] <= 1
    ):
        problems.append(
            f"{card_path}: correction: {entry!r} is not allowed; it must be "
            f"{{inverts: {CLIPPED_MEAN}, sigma: a level from 0 to 1}}"
        )
    channels = card.get("channels", 1)
    if channels not in CHANNELS or isinstance(channels, bool):
        problems.append(f"{card_path}: channels: {channels!r} is not allowed; it must be 1 or 3")
    elif isinstance(card.get("input_shape"), list) and card["input_shape"][-1:] != [channels]:
        problems.append(
            f"{card_path}: input_shape: {card['input_shape']!r} contradicts channels {channels}"
        )
    if problems:
        raise UserError("\n".join(problems))
    return card


def card_beside(model_file: Path) -> dict:
    """The validated card beside ``model_file`` (a model.keras)."""
    return check_card(Path(model_file).with_name(CARD))


def channels(card: dict) -> int:
    """The image channels the model takes and gives: 1 (grey; cards without the key) or 3."""
    return card.get("channels", 1)


def correction(card: dict) -> float | None:
    """The sigma at which the model's outputs go through the inverse of the clipped-Gaussian
    mean (denoising/clipping.py), as its card asks; None: they are used as they are."""
    entry = card.get("correction")
    return entry["sigma"] if isinstance(entry, dict) else None


def takes_level(card: dict) -> bool:
    """Whether the model takes the noise level as an extra input channel (noise_map.py)."""
    return card.get("level_input", False)
