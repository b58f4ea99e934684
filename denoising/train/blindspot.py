"""Blind-spot training pairs from noisy images alone: Noise2Void (Krull et al. 2019) and N2V2
(Hoeck et al. 2022).

In each image a random fraction of the pixels is masked: their input value is replaced by a
random other pixel of their 5x5 neighbourhood (``n2v``), or by the median of that neighbourhood
without its centre (``n2v2``), and the loss counts only those pixels, against their original
noisy values. A network that cannot see a pixel cannot copy its noise, and since the noise of
neighbouring pixels is independent, the best it can predict is the clean value.

Guarantee: a masked pixel's input is never taken from its own position (images must be at least
5x5), and every choice (which pixels, which neighbour) comes from the generator passed in, so
(seed, epoch, batch) fixes them all.
"""

import numpy as np

from denoising.train.losses import pixel_error

BLIND_SPOT_MODES = ("n2v", "n2v2")
RADIUS = 2  # The neighbourhood is (2 * RADIUS + 1) squared pixels, as in both papers.
MIN_SIZE = 2 * RADIUS + 1
# The 24 offsets of a 5x5 neighbourhood without its centre.
OFFSETS = np.array(
    [
        (dy, dx)
        for dy in range(-RADIUS, RADIUS + 1)
        for dx in range(-RADIUS, RADIUS + 1)
        if (dy, dx) != (0, 0)
    ]
)


def mask_positions(shape: tuple, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices (image, row, column) of the masked pixels of ``shape`` (N, H, W, C) images:
    ``fraction`` of each image's pixels (at least one), distinct, drawn from ``rng``."""
    n, h, w = shape[:3]
    count = max(1, round(fraction * h * w))
    # The ``count`` smallest of a random score per pixel: a uniform draw without replacement.
    chosen = np.argpartition(rng.random((n, h * w)), count - 1, axis=1)[:, :count]
    chosen = np.sort(chosen, axis=1).ravel()
    images = np.repeat(np.arange(n), count)
    return np.stack([images, chosen // w, chosen % w], axis=1)


def _inside(centre: np.ndarray, offset: np.ndarray, size: int) -> np.ndarray:
    """``centre + offset``, or where that falls outside [0, size), ``centre - offset``: the
    offset mirrored, so that a non-zero offset never lands back on the centre."""
    moved = centre + offset
    return np.where((moved < 0) | (moved >= size), centre - offset, moved)


def neighbours(positions: np.ndarray, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns), each (M, 24): the neighbourhood of each position without its centre,
    with offsets that would leave the image mirrored back into it."""
    rows = _inside(positions[:, 1:2], OFFSETS[:, 0], shape[1])
    cols = _inside(positions[:, 2:3], OFFSETS[:, 1], shape[2])
    return rows, cols


def blind_spot_pair(
    noisy: np.ndarray, mode: str, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) for blind-spot training on (N, H, W, C) ``noisy`` images: the input with
    the masked pixels replaced, and the target: the noisy images with the mask stacked on as C
    more channels (1 where the loss counts), as ``masked_loss`` reads it."""
    positions = mask_positions(noisy.shape, fraction, rng)
    rows, cols = neighbours(positions, noisy.shape)
    images = positions[:, :1]
    if mode == "n2v":
        pick = rng.integers(0, len(OFFSETS), size=len(positions))[:, np.newaxis]
        row, col = np.take_along_axis(rows, pick, 1), np.take_along_axis(cols, pick, 1)
        values = noisy[images, row, col][:, 0]
    elif mode == "n2v2":
        values = np.median(noisy[images, rows, cols], axis=1)
    else:
        raise ValueError(f"unknown blind-spot mode {mode!r}")
    inputs = noisy.copy()
    inputs[positions[:, 0], positions[:, 1], positions[:, 2]] = values
    mask = np.zeros(noisy.shape, dtype=noisy.dtype)
    mask[positions[:, 0], positions[:, 1], positions[:, 2]] = 1
    return inputs, np.concatenate([noisy, mask], axis=-1)


def masked_loss(loss: str):
    """A Keras loss: ``loss``'s per-pixel error (``losses.pixel_error``) averaged over the masked
    pixels only of each image; the target holds the noisy image and the mask
    (``blind_spot_pair``)."""
    from keras import ops

    error = pixel_error(loss)

    def blind_spot_loss(target, output):
        channels = output.shape[-1]
        values, mask = target[..., :channels], target[..., channels:]
        per_pixel = error(values, output) * mask
        return ops.sum(per_pixel, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1)

    return blind_spot_loss
