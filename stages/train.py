"""Stage train: fit one denoising model at one noise level, or blind over a range of levels."""

import argparse
import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from denoising.cards import file_sha256, package_versions
from denoising.cli import run_stage
from denoising.errors import UserError
from denoising.files import RowFile, atomic_dir, load_array, save_json
from denoising.params import (
    MODEL_NAMES,
    MODEL_PARAMS,
    NoiseParams,
    TrainParams,
    load_section,
    load_seed,
    training_for,
)

log = logging.getLogger("train")


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, validation) indices. Keras' own split takes the last rows, which
    would be one class only when files are sorted by class folder."""
    order = np.random.default_rng(seed).permutation(count)
    n_validation = min(max(1, round(count * fraction)), count - 1)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


# Above this many bytes of training arrays, train.stream "auto" batches them from disk.
STREAM_ABOVE_BYTES = 2**30


def streams(setting: str, clean: RowFile, noisy: RowFile | None) -> bool:
    """Whether to batch the training arrays from disk rather than load them: ``on``, ``off``,
    or ``auto`` (when they would take more than ``STREAM_ABOVE_BYTES`` of memory)."""
    size = sum(np.prod(f.shape) * f.dtype.itemsize for f in (clean, noisy) if f is not None)
    stream = setting == "on" or (setting == "auto" and size > STREAM_ABOVE_BYTES)
    log.info(
        "training arrays: %.1f MB, %s", size / 1e6, "streamed from disk" if stream else "in memory"
    )
    return stream


def check_shapes(model: str, multiple: int, train: tuple, test: tuple) -> None:
    """Fail before training if the model cannot take the images it will be scored on: sizes
    must be multiples of its poolings, and a dense model takes only its training size (with
    data.mode patches, test crops are larger than training patches)."""
    for split, shape in (("train", train), ("test", test)):
        if shape[0] % multiple or shape[1] % multiple:
            raise UserError(
                f"{split} images are {shape[1]}x{shape[0]}, which does not suit model '{model}': "
                f"height and width must be multiples of {multiple} (its poolings); set "
                "data.image_size (mode resize), or data.patch_size and data.test_crop (mode "
                "patches)"
            )
    if model == "dense" and tuple(train) != tuple(test):
        raise UserError(
            f"model 'dense' takes only its training size, {train[1]}x{train[0]}, and cannot "
            f"score the {test[1]}x{test[0]} test images; with data.mode patches, train "
            "convolutional models (train.models: [conv], dncnn or unet), or set data.test_crop "
            "to data.patch_size"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--model", choices=MODEL_NAMES, required=True)
    parser.add_argument("--level", type=float, help="the noise level; left out for a blind model")
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, help="noisy copies at --level")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--live-dir", type=Path, required=True)
    args = parser.parse_args()
    if args.level is not None and args.noisy_dir is None:
        parser.error("--noisy-dir is required with --level")
    model_params = load_section(args.params, f"models.{args.model}", MODEL_PARAMS[args.model])
    params = training_for(load_section(args.params, "train", TrainParams), model_params)
    noise = load_section(args.params, "noise", NoiseParams)
    seed = load_seed(args.params)

    blind = args.level is None
    if blind:
        # One model for every level has the harder task, and gets its own epoch count.
        params = dataclasses.replace(params, epochs=params.blind_epochs)
    # A blind model sees a level per image drawn from train.noise_range, afresh every epoch.
    levels = params.noise_range if blind else args.level
    test_shape = RowFile(args.clean_dir / "test.npy").shape[1:3]
    clean = RowFile(args.clean_dir / "train.npy")
    noisy = None if blind else RowFile(args.noisy_dir / "train.npy")
    stream = streams(params.stream, clean, noisy)
    if not stream:
        # Small enough for memory: Keras batches NumPy arrays itself, which is fastest.
        clean = load_array(clean.path)
        noisy = None if noisy is None else load_array(noisy.path)

    # Imported here so that a params error is reported before TensorFlow's slow start-up.
    from denoising.quiet import load_tensorflow

    load_tensorflow()
    import keras
    import tensorflow as tf
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    from denoising.accelerators import distribution_strategy, set_precision
    from denoising.batches import NoisyBatches, noisy_pair
    from denoising.models import build_model, save_model, size_multiple

    multiple = size_multiple(args.model, model_params)
    check_shapes(args.model, multiple, clean.shape[1:3], test_shape)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    fit_rows, val_rows = split_indices(len(clean), params.validation_split, seed)
    set_precision(params.mixed_precision)
    with distribution_strategy(params.distribute).scope():
        model = build_model(
            args.model,
            model_params,
            clean.shape[1:],
            params.learning_rate,
            params.loss,
            params.jit_compile,
        )
    callbacks = [DVCLiveCallback(live=Live(str(args.live_dir), dvcyaml=False, save_dvc_exp=False))]
    if params.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.patience, restore_best_weights=True
            )
        )

    def pair(rows: np.ndarray, stream: int):
        """Fixed (input, target) for ``rows``: the stage's noisy images where there are some,
        and the clean images or (Noise2Noise) a second noisy copy, from a seeded generator."""
        rng = np.random.default_rng([seed, stream])
        given = None if noisy is None else noisy[rows]
        return noisy_pair(clean[rows], noise.type, levels, noise.clip, params.target, rng, given)

    # With target "noisy", validation pairs are noisy too, so no clean image is ever used.
    steps = None
    if stream or blind or params.fresh_noise:
        # Batches made by threads through tf.data: the stage's noisy images, or, for blind and
        # fresh-noise models, noise drawn per batch. Streamed, the rows are read from disk and
        # validation batches are read the same way, the same each epoch.
        given = None if blind or params.fresh_noise else noisy
        common = (noise.type, levels, noise.clip, params.target, params.batch_size)
        batches = NoisyBatches(clean, *common, seed, noisy=given, rows=fit_rows)
        inputs, targets, steps = batches.dataset(params.epochs), None, len(batches)
        if stream:
            fixed = {"noisy": noisy, "rows": val_rows, "fresh": False}
            validation = NoisyBatches(clean, *common, seed + 1, **fixed).dataset()
        else:
            validation = pair(val_rows, stream=1)
    else:
        validation = pair(val_rows, stream=1)
        inputs, targets = pair(fit_rows, stream=0)
    started = time.perf_counter()
    history = model.fit(
        inputs,
        targets,
        epochs=params.epochs,
        steps_per_epoch=steps,
        batch_size=None if targets is None else params.batch_size,
        # Arrays are shuffled by Keras; NoisyBatches shuffle themselves.
        shuffle=targets is not None,
        validation_data=validation,
        callbacks=callbacks,
        verbose=2,
    )

    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    log.info("fit took %.2f s", time.perf_counter() - started)
    card = {
        "model": args.model,
        "architecture": dataclasses.asdict(model_params),
        "input_shape": list(clean.shape[1:]) if args.model == "dense" else "any",
        "size_multiple": multiple,
        "noise": {
            "type": noise.type,
            "clip": noise.clip,
            **({"range": params.noise_range} if blind else {"level": args.level}),
        },
        "train": dataclasses.asdict(params),
        "seed": seed,
        "train_images": len(fit_rows),
        "validation_images": len(val_rows),
        "epochs_run": len(history.history["loss"]),
        "best_val_loss": min(history.history["val_loss"]),
        "data_manifest_sha256": file_sha256(args.clean_dir / "manifest.json"),
        "packages": package_versions(),
    }
    with atomic_dir(args.model_dir) as model_dir:
        save_model(model, model_dir / "model.keras")
        save_json(model_dir / "card.json", card)
    log.info("saved %s (best val_loss %.4f)", args.model_dir, card["best_val_loss"])


if __name__ == "__main__":
    run_stage(main)
