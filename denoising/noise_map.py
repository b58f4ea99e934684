"""The noise-level input of a conditioned model, as FFDNet and DRUNet have it: the level (the
noise parameter on the [0, 1] scale, for Gaussian noise its sigma) as one constant channel after
the image's own, so that one model covers a range of levels and is told which at apply time.

The guarantee: ``with_level(images, levels)`` is ``images`` with one channel more, holding each
image's level in every pixel; the image channels are unchanged. ``conditioned(predict, level)``
takes images alone, so the code around a model (tiles, self-ensemble) never sees the channel.
"""

import numpy as np


def with_level(images: np.ndarray, levels) -> np.ndarray:
    """``images`` (n, height, width, channels) and a level channel: one ``levels`` for all, or
    one per image (shape (n, 1, 1, 1)); float32."""
    images = np.asarray(images, dtype=np.float32)
    plane = np.broadcast_to(np.asarray(levels, dtype=np.float32), (*images.shape[:3], 1))
    return np.concatenate([images, plane], axis=-1)


def conditioned(predict, level: float):
    """``predict`` for a model that takes a level channel, told ``level``, taking images alone."""
    return lambda batch: predict(with_level(batch, level))
