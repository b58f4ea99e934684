"""Training pairs: noise fixed once, or drawn afresh every epoch; per level, blind (one level
per image from a range), and Noise2Noise (a second noisy copy as the target)."""

import math

import keras
import numpy as np

from denoising.noise import add_noise


def draw_levels(levels, count: int, rng: np.random.Generator):
    """One level for every image, or, for a [low, high] range, one level per image."""
    if isinstance(levels, (int, float)):
        return float(levels)
    low, high = levels
    return rng.uniform(low, high, size=(count, 1, 1, 1)).astype(np.float32)


def noisy_pair(clean, noise_type, levels, clip, target, rng, noisy=None):
    """(input, target) for ``clean``: the input is ``noisy`` if given, else freshly drawn noise;
    the target is ``clean``, or for ``target="noisy"`` a second noisy copy drawn independently at
    the same level (Noise2Noise: the model never sees a clean image)."""
    level = draw_levels(levels, len(clean), rng)
    if noisy is None:
        noisy = add_noise(clean, noise_type, level, rng, clip)
    if target == "clean":
        return noisy, clean
    return noisy, add_noise(clean, noise_type, level, rng, clip)


class NoisyBatches(keras.utils.PyDataset):
    """Batches of ``clean[rows]`` with noise drawn per batch, shuffled afresh every epoch.

    ``clean`` (and ``noisy``) may be arrays or ``RowFile``s that read only a batch's rows from
    disk, so a training set larger than memory streams. With ``noisy`` given, its images are the
    inputs (noise fixed once); otherwise noise is drawn for each batch. Batch ``i`` of epoch
    ``e`` draws from a generator seeded with (seed, e, i), so a run is reproducible whatever
    order Keras asks for the batches in. With ``fresh=False`` (validation), every epoch sees the
    same batches, in order, with the same noise.
    """

    def __init__(
        self,
        clean,
        noise_type,
        levels,
        clip,
        target,
        batch_size,
        seed,
        *,
        noisy=None,
        rows=None,
        fresh=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.clean, self.noisy, self.noise_type, self.levels = clean, noisy, noise_type, levels
        self.clip, self.target, self.batch_size, self.seed = clip, target, batch_size, seed
        self.rows = np.arange(len(clean)) if rows is None else np.asarray(rows)
        self.fresh, self.epoch = fresh, -1
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        given = None if self.noisy is None else self.noisy[rows]
        return noisy_pair(
            self.clean[rows], self.noise_type, self.levels, self.clip, self.target, rng, given
        )

    def on_epoch_end(self) -> None:
        if not self.fresh and self.epoch == 0:
            return
        self.epoch += 1
        if self.fresh:
            self.order = self.rows[
                np.random.default_rng([self.seed, self.epoch]).permutation(len(self.rows))
            ]
        else:
            self.order = self.rows
