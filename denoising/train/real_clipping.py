"""Whether real noisy training images show clipping, and at which sigma a model trained against
their noisy values is corrected for it (the clipped-Gaussian mean's inverse, ``clipping.py``).

A sensor clips at black and white as simulated clipped noise does, so a model that learns the
mean of real noisy values (Noise2Noise from real pairs, N2V, N2V2, Neighbor2Neighbor) learns a
mean pulled towards the middle there too. Real noise has no known sigma: it is estimated from the
images, and the correction is made only where the images clip.

The guarantee: ``real_clipping(images)`` reads every row of ``images`` (an array or a
``RowFile``) once, about ``CHUNK_BYTES`` at a time, and gives the share of values at or beyond
0 and 1; its ``sigma`` is None when that share is below ``CLIPPED_SHARE``, else the median of
scikit-image's wavelet estimate (``sigma.estimated_sigma``) over at most ``SIGMA_ROWS`` evenly
spaced rows. The same rows give the same result: nothing is drawn at random.
"""

import logging
from dataclasses import dataclass

import numpy as np

from denoising.cards import NOISY_TARGETS
from denoising.names import REAL
from denoising.rows import CHUNK_BYTES
from denoising.sigma import estimated_sigma

log = logging.getLogger(__name__)

# Below this share of pixels at 0 or 1, the images are taken not to clip: no correction is made.
CLIPPED_SHARE = 0.001
SIGMA_ROWS = 1000


@dataclass(frozen=True)
class RealClipping:
    """The share of training pixels at 0 or 1, and the estimated sigma to correct at (None:
    the images do not clip, and the model's outputs are used as they are)."""

    share: float
    sigma: float | None


def real_clipping(images) -> RealClipping:
    """How much ``images`` clip, and the sigma to correct at (see the module's guarantee)."""
    step = max(1, CHUNK_BYTES // (int(np.prod(images.shape[1:])) * 4))
    clipped = 0
    for start in range(0, len(images), step):
        block = np.asarray(images[start : start + step])
        clipped += int(np.count_nonzero((block <= 0) | (block >= 1)))
    share = clipped / max(1, int(np.prod(images.shape)))
    if share < CLIPPED_SHARE:
        log.info(
            "real noise: %.3f %% of the training pixels at 0 or 1, under %.1f %%: the images "
            "do not clip, and no correction is made",
            100 * share,
            100 * CLIPPED_SHARE,
        )
        return RealClipping(share, None)
    rows = np.unique(np.linspace(0, len(images) - 1, min(len(images), SIGMA_ROWS)).astype(int))
    sigmas = [
        estimated_sigma(np.asarray(images[rows[i : i + step]])) for i in range(0, len(rows), step)
    ]
    sigma = float(np.median(np.concatenate(sigmas)))
    log.info(
        "real noise: %.3f %% of the training pixels at 0 or 1: the card asks for the "
        "clipped-Gaussian mean's inverse (Foi 2009) at the estimated sigma %.4f",
        100 * share,
        sigma,
    )
    return RealClipping(share, sigma)


def clipping_for(noise_type: str, target: str, noisy) -> RealClipping | None:
    """``real_clipping`` of the noisy training images where a model learns the mean of real
    noisy values (``noise.type`` real, a noisy target); None for every other model."""
    return real_clipping(noisy) if noise_type == REAL and target in NOISY_TARGETS else None
