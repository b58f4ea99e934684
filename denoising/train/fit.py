"""Fit and save: build a model, train it on the plan's feed, seeded and deterministic, with its
losses logged by DVCLive and an interrupted run resumed, then write the model and its card,
both or neither. TensorFlow is imported inside, after the plan's checks have passed.
"""

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from denoising.cards import asks_for_correction
from denoising.errors import UserError
from denoising.files import atomic_dir, atomic_path, save_json
from denoising.names import REAL
from denoising.train.batches import training_feed
from denoising.train.plan import Corruption, TrainingArrays, split_indices

log = logging.getLogger(__name__)


@dataclass
class Fitted:
    """A trained model, its history (``loss`` and ``val_loss`` per epoch), the (train,
    validation) image counts, the shape of the images it was trained on, and how long the fit
    took: ``seconds`` (this run's, not saved with the model, which must be the same bytes on
    every rerun) and ``steps_per_epoch``."""

    model: object
    history: dict
    counts: tuple[int, int]
    image_shape: tuple[int, ...]
    seconds: float
    steps_per_epoch: int


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

    from denoising.train.accelerators import set_precision
    from denoising.train.resume import Backup

    backup = backup or Backup(None, "")

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    set_precision(params.mixed_precision)
    image_shape = tuple(arrays.images.shape[1:])
    rows = split_indices(len(arrays.images), params.validation_split, seed)
    steps_per_epoch = math.ceil(len(rows[0]) / params.batch_size)
    note_clipped_targets(params, corruption)
    model, trainer = build(name, model_params, params, image_shape, corruption, steps_per_epoch)
    callbacks = training_callbacks(params, live_dir, backup)
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
    seconds = time.perf_counter() - started
    log.info("fit took %.2f s", seconds)
    if corruption.target != "clean":
        # The training loss is the target's own; the saved model is scored against clean images.
        optimizer = trainer.optimizer
        model.compile(optimizer=optimizer, loss=params.loss, jit_compile=params.jit_compile)
    counts = (len(rows[0]), len(rows[1]))
    history = backup.history(history.history)
    return Fitted(model, history, counts, image_shape, seconds, feed.steps or steps_per_epoch)


def note_clipped_targets(params, corruption: Corruption) -> None:
    """Binary cross-entropy counts unclipped noisy targets outside [0, 1] as 0 or 1, so that it
    stays bounded (``losses``): the model learns the clipped mean. Said in the log: for Gaussian
    noise at one level the card asks for its inverse; for a blind model's range of levels, or
    other noise, no inverse is made, so a warning."""
    unclipped = not corruption.clip and corruption.type != REAL
    if params.loss != "binary_crossentropy" or not unclipped or corruption.target == "clean":
        return
    said = "train.loss binary_crossentropy counts the unclipped noisy targets (train.target %s)"
    said += " outside [0, 1] as 0 or 1, so the model learns their clipped mean; "
    target, type_ = corruption.target, corruption.type
    if asks_for_correction(target, type_, corruption.clip, params.loss, corruption.levels):
        log.info(said + "its card asks for the clipped mean's inverse", corruption.target)
        return
    why = f"no inverse is known for noise.type {corruption.type}"
    if corruption.type == "gaussian":
        why = "a blind model's level varies, so its card asks for no inverse"
    said += why + ", and outputs near 0 and 1 are biased; train.loss mse is unbiased"
    log.warning(said, corruption.target)


def build(name: str, model_params, params, image_shape, corruption: Corruption, steps: int):
    """The model, compiled with its learning rate (decayed over ``steps`` batches an epoch for
    the cosine schedule) and loss, and what trains it: the model itself, or for ne2ne the
    Neighbor2Neighbor trainer around it. Blind-spot targets train with the masked loss."""
    import keras

    from denoising.train.accelerators import distribution_strategy
    from denoising.train.blindspot import BLIND_SPOT_MODES, masked_loss
    from denoising.train.losses import mean_loss
    from denoising.train.models import build_model
    from denoising.train.neighbors import build_trainer

    learning_rate = params.learning_rate
    steps *= params.epochs
    if params.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(params.learning_rate, steps)
    loss = params.loss
    if corruption.target in BLIND_SPOT_MODES:
        loss = masked_loss(params.loss)
    elif corruption.target == "noisy":  # Noise2Noise: binary cross-entropy bounded (losses).
        loss = mean_loss(params.loss)
    level_input, jit = corruption.level_input, params.jit_compile
    with distribution_strategy(params.distribute).scope():
        model = build_model(name, model_params, image_shape, learning_rate, loss, jit, level_input)
        if params.init:
            load_initial_weights(model, name, Path(params.init))
        trainer = model
        if corruption.target == "ne2ne":
            multiple = model_params.size_multiple
            trainer = build_trainer(model, params.ne2ne_gamma, steps, multiple, params.loss)
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
            trainer.compile(optimizer=optimizer, jit_compile=jit)
    return model, trainer


def training_callbacks(params, live_dir: Path, backup) -> list:
    """DVCLive's logger (with a resumed run's earlier epochs replayed into it), the backup's
    callbacks, and early stopping with ``train.patience``."""
    import keras
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    live = DVCLiveCallback(live=Live(str(live_dir), dvcyaml=False, save_dvc_exp=False))
    backup.replay(live)
    callbacks = [*backup.callbacks(), live]
    if params.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.patience, restore_best_weights=True
            )
        )
    return callbacks


def load_initial_weights(model, name: str, folder: Path) -> None:
    """Start ``model`` from the weights of the model saved in ``folder`` (fine-tuning). A start
    that takes the noise level as its last input channel (a blind model) can start a model
    without it: the first layer's weights for that channel are dropped, so the start is the
    blind model told level 0."""
    import keras

    start = keras.models.load_model(folder / "model.keras", compile=False)
    shapes = [tuple(w.shape) for w in model.weights]
    weights = start.get_weights()
    first = weights[0].shape if weights else ()
    if len(first) == 4 and shapes and first[:2] + (first[2] - 1,) + first[3:] == shapes[0]:
        weights[0] = weights[0][:, :, :-1, :]
        log.info("%s takes the noise level; it is left out (level 0)", folder)
    if [tuple(w.shape) for w in weights] != shapes:
        raise UserError(
            f"train.init: {folder}: its model ({start.name}, {start.count_params()} "
            f"parameters) does not match models.{name} ({model.count_params()} parameters); "
            f"fine-tune a model trained with the same models.{name} settings"
        )
    model.set_weights(weights)
    log.info("starting from the weights of %s", folder)


def save_loss_plot(path: Path, history: dict) -> None:
    """The training and validation loss of every epoch as one CSV (epoch, curve, loss), which
    ``dvc plots`` draws as one chart with a line per curve (template ``by_curve``)."""
    lines = ["epoch,curve,loss"]
    for key, curve in (("loss", "training"), ("val_loss", "validation")):
        lines += [f"{epoch},{curve},{value!r}" for epoch, value in enumerate(history[key], 1)]
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines) + "\n")


def save_timing(path: Path, fitted: Fitted) -> None:
    """How long the fit took, for benchmarks to read: seconds, epochs run and steps per epoch.
    A log of the machine (under logs/, which git ignores), not a pipeline output: a duration in
    an output would break byte-identical reruns."""
    epochs = len(fitted.history["loss"])
    steps = fitted.steps_per_epoch
    timing = {"fit_seconds": fitted.seconds, "epochs_run": epochs, "steps_per_epoch": steps}
    save_json(path, timing)


def save_trained(model_dir: Path, model, card: dict) -> None:
    """Write ``model.keras`` and ``card.json`` into ``model_dir``, both or neither."""
    from denoising.train.models import save_model

    with atomic_dir(model_dir) as folder:
        save_model(model, folder / "model.keras")
        save_json(folder / "card.json", card)
    log.info("saved %s (best val_loss %.4f)", model_dir, card["best_val_loss"])
