"""Neighbor2Neighbor (Huang et al. 2021): training from noisy images alone, with two
sub-sampled images of each noisy image as input and target.

Each image is cut into 2x2 cells. The sampler picks one pixel of every cell for the first
sub-image and a horizontally or vertically adjacent pixel of the same cell for the second, so
the two half-size images show the same scene with independent noise. The network learns to map
the first to the second, plus the paper's regulariser: the same sub-samplers applied to the
network's output on the whole image (without gradient) must differ as the two noisy
sub-images do. Its weight grows linearly from 0 to ``gamma`` over training, as in the paper.

Guarantee: the two pixels picked in a cell are always distinct and adjacent, and the choice
comes from the generator passed in, so (seed, epoch, batch) fixes it.
"""

import numpy as np


def neighbor_masks(shape: tuple, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two (N, H, W, 1) float32 masks for ``shape`` (N, H, W, C) images, H and W even, each with
    exactly one 1 in every 2x2 cell, at adjacent positions of the cell."""
    n, h, w = shape[:3]
    # A cell's pixels numbered 0..3 as 2 * row + column; flipping bit 0 moves to the pixel beside,
    # flipping bit 1 to the pixel above or below: both adjacent, never the same pixel.
    first = rng.integers(0, 4, size=(n, h // 2, w // 2))
    second = first ^ rng.integers(1, 3, size=first.shape)

    def one_hot(cells: np.ndarray) -> np.ndarray:
        mask = np.zeros((n, h // 2, 2, w // 2, 2), dtype=np.float32)
        image, row, col = np.indices(cells.shape)
        mask[image, row, cells // 2, col, cells % 2] = 1
        return mask.reshape(n, h, w, 1)

    return one_hot(first), one_hot(second)


def subsample(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The half-size image of the pixels ``mask`` picks, one from every 2x2 cell."""
    n, h, w, c = images.shape
    return (images * mask).reshape(n, h // 2, 2, w // 2, 2, c).sum(axis=(2, 4))


def neighbor_pair(noisy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) for ``Neighbor2Neighbor``: the noisy images with the two masks stacked
    on as channels, and the noisy images (unused by the loss, which is computed from the input)."""
    first, second = neighbor_masks(noisy.shape, rng)
    return np.concatenate([noisy, first, second], axis=-1), noisy


def build_trainer(denoiser, gamma: float, total_steps: int, multiple: int, loss: str):
    """A Keras model that trains ``denoiser`` with the Neighbor2Neighbor loss, on batches from
    ``neighbor_pair``; ``fit`` it, then use ``denoiser``. Sub-images are padded (mirrored) to a
    multiple of ``multiple`` for the denoiser and cropped back."""
    import keras
    import tensorflow as tf
    from keras import ops

    from denoising.train.losses import pixel_error

    error = pixel_error(loss)

    def half(images, mask):
        return ops.average_pool(images * mask, 2, strides=2) * 4.0

    def padded(images):
        h, w = images.shape[1], images.shape[2]
        pad = [[0, 0], [0, -h % multiple], [0, -w % multiple], [0, 0]]
        return denoiser(ops.pad(images, pad, mode="reflect"))[:, :h, :w]

    class Neighbor2Neighbor(keras.Model):
        def __init__(self):
            super().__init__(name="neighbor2neighbor")
            self.denoiser = denoiser
            self.tracker = keras.metrics.Mean(name="loss")
            # No weights of its own, and the denoiser's exist: built, as BackupAndRestore needs.
            self.built = True

        def objective(self, packed, weight):
            noisy, first, second = packed[..., :-2], packed[..., -2:-1], packed[..., -1:]
            source, target = half(noisy, first), half(noisy, second)
            output = padded(source)
            whole = ops.stop_gradient(padded(noisy))
            shifted = target + half(whole, first) - half(whole, second)
            return ops.mean(error(target, output)) + weight * ops.mean(error(shifted, output))

        def train_step(self, data):
            packed, _ = data
            progress = ops.cast(self.optimizer.iterations, "float32") / float(total_steps)
            weight = gamma * ops.minimum(progress, 1.0)
            variables = self.denoiser.trainable_variables
            with tf.GradientTape() as tape:
                value = self.objective(packed, weight)
            self.optimizer.apply(tape.gradient(value, variables), variables)
            self.tracker.update_state(value)
            return {"loss": self.tracker.result()}

        def test_step(self, data):
            # Validation uses the full weight throughout, so its loss compares across epochs.
            packed, _ = data
            self.tracker.update_state(self.objective(packed, gamma))
            return {"loss": self.tracker.result()}

        def call(self, packed):
            return self.denoiser(packed[..., :-2])

        @property
        def metrics(self):
            return [self.tracker]

    return Neighbor2Neighbor()
