"""Training pairs: noise fixed once, or drawn afresh every epoch; per level, blind (one level
per image from a range), Noise2Noise (a second noisy copy as the target), and from noisy images
alone: blind-spot (Noise2Void, N2V2) and Neighbor2Neighbor pairs."""

import math
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from denoising.names import SELF_SUPERVISED
from denoising.noise_map import with_level
from denoising.train.blindspot import BLIND_SPOT_MODES, blind_spot_pair
from denoising.train.neighbors import neighbor_pair
from denoising.train.noise import add_noise
from denoising.train.plan import Corruption, TrainingArrays


def draw_levels(levels, count: int, rng: np.random.Generator):
    """One level for every image, or, for a [low, high] range, one level per image."""
    if isinstance(levels, (int, float)):
        return float(levels)
    low, high = levels
    return rng.uniform(low, high, size=(count, 1, 1, 1)).astype(np.float32)


def dihedral(clean, noisy, rng: np.random.Generator):
    """``clean`` and ``noisy`` (either may be None), each image flipped and turned by one of
    the 8 symmetries of a square, drawn from ``rng``, the same for an image and its noisy copy.
    Images that are not square get only the 4 symmetries that keep their shape."""
    first = clean if clean is not None else noisy
    square = first.shape[1] == first.shape[2]
    turns = rng.integers(0, 4 if square else 2, size=len(first)) * (1 if square else 2)
    flips = rng.integers(0, 2, size=len(first)).astype(bool)

    def move(images: np.ndarray) -> np.ndarray:
        out = [np.rot90(image, k, axes=(0, 1)) for image, k in zip(images, turns, strict=True)]
        out = [image[:, ::-1] if flip else image for image, flip in zip(out, flips, strict=True)]
        return np.ascontiguousarray(np.stack(out))

    return tuple(None if images is None else move(images) for images in (clean, noisy))


def pair_channels(corruption: Corruption, channels: int) -> tuple[int, int]:
    """The channels of a training pair's (input, target) for images of ``channels``: blind-spot
    targets carry their mask, Neighbor2Neighbor inputs their two sub-sampling masks, and a
    conditioned model's inputs their noise level."""
    if corruption.target in BLIND_SPOT_MODES:
        return channels, 2 * channels
    if corruption.target == "ne2ne":
        return channels + 2, channels
    return channels + corruption.level_input, channels


def noisy_pair(clean, corruption: Corruption, rng, noisy=None):
    """(input, target) for ``clean``: the input is ``noisy`` if given, else freshly drawn noise;
    the target is ``clean``, or for target "noisy" a second noisy copy drawn independently at
    the same level (Noise2Noise: the model never sees a clean image). The self-supervised
    targets (n2v, n2v2, ne2ne) take ``noisy`` alone; ``clean`` is None for them."""
    if corruption.target in BLIND_SPOT_MODES:
        return blind_spot_pair(noisy, corruption.target, corruption.mask_fraction, rng)
    if corruption.target == "ne2ne":
        return neighbor_pair(noisy, rng)
    level = corruption.levels  # Fixed noisy copies were made at the one level.
    if noisy is None or corruption.target == "noisy":  # Real pairs come with their noise.
        level = draw_levels(corruption.levels, len(clean), rng)
    inputs = (
        noisy
        if noisy is not None
        else add_noise(clean, corruption.type, level, rng, corruption.clip)
    )
    if corruption.level_input:
        inputs = with_level(inputs, level)
    if corruption.target == "clean":
        return inputs, clean
    return inputs, add_noise(clean, corruption.type, level, rng, corruption.clip)


class NoisyBatches:
    """Batches of ``clean[rows]`` with noise drawn per batch, shuffled afresh every epoch.

    ``clean`` (and ``noisy``) may be arrays or ``RowFile``s that read only a batch's rows from
    disk, so a training set larger than memory streams. With ``noisy`` given, its images are the
    inputs (noise fixed once); otherwise noise is drawn for each batch. Self-supervised targets
    take ``noisy`` alone, with ``clean`` None; their masks are drawn for each batch. Batch
    ``index`` of epoch ``epoch`` depends on nothing but (seed, epoch, index), so a run is
    reproducible whatever thread makes it. With ``fresh=False`` (validation), every epoch sees
    the batches of epoch 0.
    """

    def __init__(
        self,
        clean,
        corruption: Corruption,
        batch_size: int,
        seed: int,
        *,
        noisy=None,
        rows=None,
        fresh: bool = True,
        augment: bool = False,
    ):
        self.clean, self.noisy, self.corruption = clean, noisy, corruption
        self.batch_size, self.seed, self.augment = batch_size, seed, augment
        self.images = clean if clean is not None else noisy
        self.rows = np.arange(len(self.images)) if rows is None else np.asarray(rows)
        self.fresh = fresh
        # The last two epochs' orders: at an epoch's end, threads may be making batches of both.
        self.orders, self.lock = {}, threading.Lock()

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The rows in the order epoch ``epoch`` takes them: a seeded permutation per epoch."""
        if not self.fresh:
            return self.rows
        with self.lock:
            if epoch not in self.orders:
                permutation = np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))
                self.orders = {e: o for e, o in self.orders.items() if e >= epoch - 1}
                self.orders[epoch] = self.rows[permutation]
            return self.orders[epoch]

    def batch(self, epoch: int, index: int):
        """(input, target) arrays of batch ``index`` of epoch ``epoch``."""
        epoch = epoch if self.fresh else 0
        start = index * self.batch_size
        rows = np.sort(self.order(epoch)[start : start + self.batch_size])
        rng = np.random.default_rng([self.seed, epoch, index])
        clean = None if self.clean is None else self.clean[rows]
        given = None if self.noisy is None else self.noisy[rows]
        if self.augment:
            # A generator of its own, so that turning augmentation on changes no noise draw.
            turns = np.random.default_rng([self.seed, epoch, index, 1])
            clean, given = dihedral(clean, given, turns)
        return noisy_pair(clean, self.corruption, rng, given)

    def dataset(self, epochs: int = 1, threads: int = 2, start: int = 0) -> tf.data.Dataset:
        """The batches of epochs ``start`` to ``epochs - 1``, one after another, as a
        ``tf.data.Dataset``: ``threads`` threads make the next batches while the model trains
        on this one. A resumed training starts at its next epoch.

        Give ``model.fit`` ``steps_per_epoch=len(self)`` so that it reads on through the epochs
        rather than starting the dataset again. Through tf.data, a batch costs the training
        loop next to nothing; a ``keras.utils.PyDataset`` added milliseconds per batch.
        """
        *size, channels = self.images.shape[1:]
        shapes = [(None, *size, c) for c in pair_channels(self.corruption, channels)]

        def make(step):
            inputs, targets = self.batch(*divmod(int(step), len(self)))
            return inputs.astype(np.float32, copy=False), targets.astype(np.float32, copy=False)

        def load(step):
            inputs, targets = tf.numpy_function(make, [step], (tf.float32, tf.float32))
            return tf.ensure_shape(inputs, shapes[0]), tf.ensure_shape(targets, shapes[1])

        steps = tf.data.Dataset.range(len(self) * start, len(self) * epochs)
        batches = steps.map(load, num_parallel_calls=threads, deterministic=True)
        return batches.prefetch(threads)


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
