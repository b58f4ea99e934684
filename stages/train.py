"""Stage train: fit a denoising autoencoder, noisy -> clean, at one noise level."""

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np

from denoising.cards import file_sha256, package_versions
from denoising.cli import run_stage
from denoising.files import load_array, save_json
from denoising.params import NoiseParams, TrainParams, load_section, load_seed

log = logging.getLogger("train")


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, validation) indices. Keras' own split takes the last rows, which
    would be one class only when files are sorted by class folder."""
    order = np.random.default_rng(seed).permutation(count)
    n_validation = min(max(1, round(count * fraction)), count - 1)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=float, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--live-dir", type=Path, required=True)
    args = parser.parse_args()
    params = load_section(args.params, "train", TrainParams)
    noise = load_section(args.params, "noise", NoiseParams)
    seed = load_seed(args.params)

    # Imported here so that a params error is reported before TensorFlow's slow start-up.
    import keras
    import tensorflow as tf
    from dvclive.keras import DVCLiveCallback

    from denoising.models import build_model, save_model
    from dvclive import Live

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    clean = load_array(args.clean_dir / "train.npy")
    noisy = load_array(args.noisy_dir / "train.npy")
    fit_rows, val_rows = split_indices(len(clean), params.validation_split, seed)
    model = build_model(params.model, clean.shape[1:], params.learning_rate, params.loss)
    live = Live(str(args.live_dir), dvcyaml=False, save_dvc_exp=False)
    history = model.fit(
        noisy[fit_rows],
        clean[fit_rows],
        epochs=params.epochs,
        batch_size=params.batch_size,
        shuffle=True,
        validation_data=(noisy[val_rows], clean[val_rows]),
        callbacks=[DVCLiveCallback(live=live)],
        verbose=2,
    )

    save_model(model, args.model_dir / "model.keras")
    card = {
        "model": params.model,
        "input_shape": list(clean.shape[1:]),
        "noise": {"type": noise.type, "level": args.level},
        "train": dataclasses.asdict(params),
        "seed": seed,
        "train_images": len(fit_rows),
        "validation_images": len(val_rows),
        "final_loss": history.history["loss"][-1],
        "final_val_loss": history.history["val_loss"][-1],
        "data_manifest_sha256": file_sha256(args.clean_dir / "manifest.json"),
        "packages": package_versions(),
    }
    save_json(args.model_dir / "card.json", card)
    log.info("saved %s (val_loss %.4f)", args.model_dir / "model.keras", card["final_val_loss"])


if __name__ == "__main__":
    run_stage(main)
