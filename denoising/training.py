"""Training a denoiser on the pipeline's arrays: which rows it learns from and which it is
validated on, whether the arrays are read from memory or from disk, whether the model can take
them, and the (input, target) pairs that feed ``model.fit``.

Everything random here is seeded: the split by the seed, each batch's noise by (seed, epoch,
batch), so the same params on the same machine give the same weights.
"""

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoising.errors import UserError
from denoising.files import atomic_dir, atomic_path, load_array, save_json
from denoising.layout import SECOND
from denoising.params import REAL, SELF_SUPERVISED
from denoising.rows import RowFile

log = logging.getLogger(__name__)

# Above this many bytes of training arrays, train.stream "auto" batches them from disk.
STREAM_ABOVE_BYTES = 2**30


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, validation) indices. Keras' own split takes the last rows, which
    would be one class only when files are sorted by class folder."""
    order = np.random.default_rng(seed).permutation(count)
    n_validation = min(max(1, round(count * fraction)), count - 1)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


@dataclass(frozen=True)
class Corruption:
    """How training pairs are made: noise ``type`` (see ``noise.add_noise``) at ``levels`` (one
    level, or a [low, high] range for a blind model: a level per image), clipped to [0, 1] if
    ``clip``, with ``target`` "clean" or "noisy" (Noise2Noise); or from the noisy images alone
    (``params.SELF_SUPERVISED``), the blind-spot targets masking ``mask_fraction`` of the
    pixels. With ``level_input``, each input carries its level as an extra channel."""

    type: str
    levels: float | list
    clip: bool
    target: str
    mask_fraction: float = 0.0
    level_input: bool = False


@dataclass
class TrainingArrays:
    """The clean training images (None for the self-supervised targets, which never read them),
    their fixed noisy copies (None for blind or fresh noise), as arrays in memory or as
    ``RowFile``s read batch by batch, and the test images' shape."""

    clean: np.ndarray | RowFile | None
    noisy: np.ndarray | RowFile | None
    test_shape: tuple[int, int]
    streamed: bool

    @property
    def images(self) -> np.ndarray | RowFile:
        """The training images that set the count and shape: clean, or noisy without clean."""
        return self.clean if self.clean is not None else self.noisy


def learning_targets(noise_type: str, target: str) -> tuple[str | None, str]:
    """The preprocessed array that a model learns towards, by name (None: the self-supervised
    targets, which need none), and the ``Corruption`` target that its pairs are made with. Real
    noise with target "noisy" is Noise2Noise from real pairs: the second acquisitions (train_b)
    take the clean images' place."""
    if target in SELF_SUPERVISED:
        return None, target
    if noise_type == REAL:
        return SECOND, "clean"
    return "train", target


def training_plan(noise, params, level) -> tuple:
    """How a model at ``level`` (None: blind, one model for every level) learns: its train
    params, the ``Corruption`` of its pairs, and the array it learns towards (as
    ``learning_targets``)."""
    blind = level is None
    if blind:  # One model for every level has the harder task, and gets its own epoch count.
        params = dataclasses.replace(params, epochs=params.blind_epochs)
    # Self-supervised targets learn from the noisy copies alone: the clean images stay closed.
    # Real pairs learn towards the second acquisitions, as others learn towards clean images.
    targets, made_with = learning_targets(noise.type, params.target)
    if made_with != params.target:  # Real pairs: the noise is what the files hold.
        params = dataclasses.replace(params, fresh_noise=False)
    # A blind model sees a level per image drawn from train.noise_range, afresh every epoch,
    # and may be told it, as an extra input channel.
    levels = params.noise_range if blind else level
    told = blind and params.level_input and made_with not in SELF_SUPERVISED
    corruption = Corruption(
        noise.type, levels, noise.clip, made_with, params.mask_fraction, level_input=told
    )
    return params, corruption, targets


def open_arrays(
    clean_dir: Path, noisy_dir: Path | None, stream: str, targets: str | None = "train"
) -> TrainingArrays:
    """Open the training arrays (``targets``, from ``learning_targets``, in the clean images'
    place): streamed from disk for ``stream`` "on", or "auto" when they would take more than
    ``STREAM_ABOVE_BYTES`` of memory; else loaded."""
    if targets == SECOND and not (clean_dir / f"{SECOND}.npy").is_file():
        raise UserError(
            f"train.target noisy with noise.type {REAL} learns from real pairs: data.dir needs a "
            f"{SECOND}/ folder, a second noisy image of each train image with the same relative "
            "name; without pairs, use n2v, n2v2 or ne2ne"
        )
    clean = None if targets is None else RowFile(clean_dir / f"{targets}.npy")
    noisy = None if noisy_dir is None else RowFile(noisy_dir / "train.npy")
    size = sum(np.prod(f.shape) * f.dtype.itemsize for f in (clean, noisy) if f is not None)
    streamed = stream == "on" or (stream == "auto" and size > STREAM_ABOVE_BYTES)
    log.info(
        "training arrays: %.1f MB, %s",
        size / 1e6,
        "streamed from disk" if streamed else "in memory",
    )
    test_shape = tuple(RowFile(clean_dir / "test.npy").shape[1:3])
    if not streamed:
        # Small enough for memory: Keras batches NumPy arrays itself, which is fastest.
        clean = None if clean is None else load_array(clean.path)
        noisy = None if noisy is None else load_array(noisy.path)
    return TrainingArrays(clean, noisy, test_shape, streamed)


def check_shapes(model: str, params, train: tuple, test: tuple, target: str = "clean") -> None:
    """Fail before training if the model cannot take the images it will be scored on: sizes
    must be multiples of its poolings, and a fixed-size model (dense) takes only its training
    size (with data.mode patches, test crops are larger than training patches). Blind-spot
    targets need a whole neighbourhood; Neighbor2Neighbor cuts images into 2x2 cells."""
    from denoising.blindspot import BLIND_SPOT_MODES, MIN_SIZE

    if target in BLIND_SPOT_MODES and min(train) < MIN_SIZE:
        raise UserError(
            f"train images are {train[1]}x{train[0]}; train.target {target} needs at least "
            f"{MIN_SIZE}x{MIN_SIZE} (a pixel's neighbourhood)"
        )
    if target == "ne2ne" and (train[0] % 2 or train[1] % 2):
        raise UserError(
            f"train images are {train[1]}x{train[0]}; train.target ne2ne needs an even height "
            "and width (2x2 cells); set data.image_size or data.patch_size"
        )
    multiple = params.size_multiple
    for split, shape in (("train", train), ("test", test)):
        if shape[0] % multiple or shape[1] % multiple:
            raise UserError(
                f"{split} images are {shape[1]}x{shape[0]}, which does not suit model '{model}': "
                f"height and width must be multiples of {multiple} (its poolings); set "
                "data.image_size (mode resize), or data.patch_size and data.test_crop (mode "
                "patches)"
            )
    if params.fixed_size and tuple(train) != tuple(test):
        raise UserError(
            f"model '{model}' takes only its training size, {train[1]}x{train[0]}, and cannot "
            f"score the {test[1]}x{test[0]} test images; with data.mode patches, train "
            "convolutional models (train.models: [conv], dncnn or unet), or set data.test_crop "
            "to data.patch_size"
        )


@dataclass
class Feed:
    """What ``model.fit`` takes: inputs and targets (arrays), or a dataset of batches (targets
    None, with ``steps`` batches an epoch), and the validation data."""

    inputs: object
    targets: np.ndarray | None
    validation: object
    steps: int | None


def training_feed(
    arrays: TrainingArrays,
    corruption: Corruption,
    params,
    seed: int,
    rows: tuple[np.ndarray, np.ndarray],
    start: int = 0,
) -> Feed:
    """The training and validation pairs for ``arrays`` under ``corruption``, from the (fit,
    validation) ``rows`` of ``split_indices``. Fixed noise in memory: arrays, as Keras batches
    them best. Otherwise (streamed, blind, fresh noise or augmented): batches made by threads
    through tf.data, with noise drawn per batch where none is fixed; streamed validation batches
    are read the same way, the same every epoch. With target "noisy", validation pairs are noisy
    too, so no clean image is ever used. The self-supervised targets train on the fixed noisy
    copies alone, with masks drawn per batch (and fixed for validation). A resumed training's
    batches ``start`` at its next epoch."""
    from denoising.batches import NoisyBatches, noisy_pair

    clean, noisy = arrays.clean, arrays.noisy
    fit_rows, val_rows = rows
    masked = corruption.target in SELF_SUPERVISED
    # Blind models have no fixed noisy copies: their noise is always drawn per batch. Noise is
    # never fresh without clean images.
    fresh = (params.fresh_noise or noisy is None) and not masked

    def pair(rows: np.ndarray, stream: int):
        """Fixed (input, target) for ``rows``, from a generator seeded with (seed, stream)."""
        given = None if noisy is None else noisy[rows]
        images = None if clean is None else clean[rows]
        return noisy_pair(images, corruption, np.random.default_rng([seed, stream]), given)

    if not (arrays.streamed or fresh or params.augment or masked):
        inputs, targets = pair(fit_rows, stream=0)
        return Feed(inputs, targets, pair(val_rows, stream=1), None)
    given = None if fresh else noisy
    batches = NoisyBatches(
        clean,
        corruption,
        params.batch_size,
        seed,
        noisy=given,
        rows=fit_rows,
        augment=params.augment,
    )
    if arrays.streamed:
        fixed = NoisyBatches(
            clean, corruption, params.batch_size, seed + 1, noisy=noisy, rows=val_rows, fresh=False
        )
        validation = fixed.dataset()
    else:
        validation = pair(val_rows, stream=1)
    return Feed(batches.dataset(params.epochs, start=start), None, validation, len(batches))


@dataclass
class Fitted:
    """A trained model, its history (``loss`` and ``val_loss`` per epoch), the (train,
    validation) image counts and the shape of the images it was trained on."""

    model: object
    history: dict
    counts: tuple[int, int]
    image_shape: tuple[int, ...]


def fit(
    name: str,
    model_params,
    params,
    arrays: TrainingArrays,
    corruption: Corruption,
    seed: int,
    live_dir: Path,
    backup=None,
) -> Fitted:
    """Build model ``name`` (with ``params.init``'s weights, if set) and fit it on ``arrays``
    under ``corruption``, seeded and deterministic, logging each epoch's losses with DVCLive to
    ``live_dir``. With a ``resume.Backup``, an interrupted run continues at its last finished
    epoch. Self-supervised targets train with their own loss; the model returned is compiled
    with ``params.loss``, so that it scores against clean images like any other."""
    import keras
    import tensorflow as tf
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    from denoising.accelerators import distribution_strategy, set_precision
    from denoising.blindspot import BLIND_SPOT_MODES, masked_loss
    from denoising.models import build_model
    from denoising.neighbors import build_trainer
    from denoising.resume import Backup

    backup = backup or Backup(None, "")

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    set_precision(params.mixed_precision)
    image_shape = tuple(arrays.images.shape[1:])
    rows = split_indices(len(arrays.images), params.validation_split, seed)
    learning_rate = params.learning_rate
    steps = math.ceil(len(rows[0]) / params.batch_size) * params.epochs
    if params.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(params.learning_rate, steps)
    unclipped = not corruption.clip and corruption.type != REAL
    if params.loss == "binary_crossentropy" and unclipped and corruption.target != "clean":
        # Linear in the target, so its minimum is still the mean; but unbounded below for targets
        # outside [0, 1], and a network can chase fixed ones (Noise2Noise diverged so on digits).
        log.warning(
            "train.loss binary_crossentropy with unclipped noisy targets (noise.clip false, "
            "train.target %s) is unbounded below and can diverge; mse or mae is safer",
            corruption.target,
        )
    loss = params.loss
    if corruption.target in BLIND_SPOT_MODES:
        loss = masked_loss(params.loss)
    with distribution_strategy(params.distribute).scope():
        model = build_model(
            name,
            model_params,
            image_shape,
            learning_rate,
            loss,
            params.jit_compile,
            corruption.level_input,
        )
        if params.init:
            load_initial_weights(model, name, Path(params.init))
        trainer = model
        if corruption.target == "ne2ne":
            multiple = model_params.size_multiple
            trainer = build_trainer(model, params.ne2ne_gamma, steps, multiple, params.loss)
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
            trainer.compile(optimizer=optimizer, jit_compile=params.jit_compile)
    live = DVCLiveCallback(live=Live(str(live_dir), dvcyaml=False, save_dvc_exp=False))
    backup.replay(live)
    callbacks = [*backup.callbacks(), live]
    if params.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.patience, restore_best_weights=True
            )
        )
    feed = training_feed(arrays, corruption, params, seed, rows, backup.start_epoch)
    started = time.perf_counter()
    history = trainer.fit(
        feed.inputs,
        feed.targets,
        epochs=params.epochs,
        steps_per_epoch=feed.steps,
        batch_size=None if feed.targets is None else params.batch_size,
        # Arrays are shuffled by Keras; NoisyBatches shuffle themselves.
        shuffle=feed.targets is not None,
        validation_data=feed.validation,
        callbacks=callbacks,
        verbose=2,
    )
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    log.info("fit took %.2f s", time.perf_counter() - started)
    if corruption.target in SELF_SUPERVISED:
        # The training loss needs masks; the saved model is scored against clean images.
        optimizer = trainer.optimizer
        model.compile(optimizer=optimizer, loss=params.loss, jit_compile=params.jit_compile)
    counts = (len(rows[0]), len(rows[1]))
    return Fitted(model, backup.history(history.history), counts, image_shape)


def check_init(init: str) -> None:
    """Fail at once, before TensorFlow starts, if ``train.init`` names no saved model."""
    if init and not (Path(init) / "model.keras").is_file():
        raise UserError(
            f"train.init: {init}: no model.keras there; give a folder that the train stage "
            "wrote (models/<model>/<level>, or a copy of one), or leave it empty"
        )


def load_initial_weights(model, name: str, folder: Path) -> None:
    """Start ``model`` from the weights of the model saved in ``folder`` (fine-tuning)."""
    import keras

    start = keras.models.load_model(folder / "model.keras", compile=False)
    shapes = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in start.weights] != shapes:
        raise UserError(
            f"train.init: {folder}: its model ({start.name}, {start.count_params()} "
            f"parameters) does not match models.{name} ({model.count_params()} parameters); "
            f"fine-tune a model trained with the same models.{name} settings"
        )
    model.set_weights(start.get_weights())
    log.info("starting from the weights of %s", folder)


def save_loss_plot(path: Path, history: dict) -> None:
    """The training and validation loss of every epoch as one CSV (epoch, curve, loss), which
    ``dvc plots`` draws as one chart with a line per curve (template ``by_curve``)."""
    lines = ["epoch,curve,loss"]
    for key, curve in (("loss", "training"), ("val_loss", "validation")):
        lines += [f"{epoch},{curve},{value!r}" for epoch, value in enumerate(history[key], 1)]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n")


def save_trained(model_dir: Path, model, card: dict) -> None:
    """Write ``model.keras`` and ``card.json`` into ``model_dir``, both or neither."""
    from denoising.models import save_model

    with atomic_dir(model_dir) as folder:
        save_model(model, folder / "model.keras")
        save_json(folder / "card.json", card)
    log.info("saved %s (best val_loss %.4f)", model_dir, card["best_val_loss"])
