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
    """Shuffled batches of ``clean`` with fresh noise in every batch of every epoch.

    Batch ``i`` of epoch ``e`` draws from a generator seeded with (seed, e, i), so a run is
    reproducible whatever order Keras asks for the batches in.
    """

    def __init__(self, clean, noise_type, levels, clip, target, batch_size, seed, **kwargs):
        super().__init__(**kwargs)
        self.clean, self.noise_type, self.levels, self.clip = clean, noise_type, levels, clip
        self.target, self.batch_size, self.seed = target, batch_size, seed
        self.epoch = -1
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.clean) / self.batch_size)

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clean = self.clean[rows]
        return noisy_pair(clean, self.noise_type, self.levels, self.clip, self.target, rng)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.clean))
