"""The self-ensemble (test-time augmentation): denoise the 8 flips and rotations of an input
and average the results mapped back, as EDSR and DRUNet report doing for their best numbers.

The guarantee: ``self_ensemble(predict)`` maps (n, height, width, channels) to the same shape;
for a ``predict`` that commutes with flips and rotations (an identity, a symmetric filter) it
returns exactly what ``predict`` returns, so it never moves a result that needs no help, and for
any other it averages away the orientation the model happens to prefer.
"""

from collections.abc import Callable

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def _transform(batch: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """Rotate the images of ``batch`` by ``turns`` quarter turns, then flip left-right."""
    out = np.rot90(batch, turns, axes=(1, 2))
    return out[:, :, ::-1] if flip else out


def _inverse(batch: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """Undo ``_transform(..., turns, flip)``."""
    out = batch[:, :, ::-1] if flip else batch
    return np.rot90(out, -turns, axes=(1, 2))


def self_ensemble(predict: Predict) -> Predict:
    """``predict``, averaged over the 8 flips and rotations of its input (float32 out)."""

    def averaged(batch: np.ndarray) -> np.ndarray:
        total = np.zeros(batch.shape, dtype=np.float64)
        for turns in range(4):
            for flip in (False, True):
                moved = np.ascontiguousarray(_transform(batch, turns, flip))
                total += _inverse(np.asarray(predict(moved)), turns, flip)
        return (total / 8).astype(np.float32)

    return averaged
