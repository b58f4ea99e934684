"""The noise level of an image estimated from the image alone, where no clean reference or told
sigma exists (real noise).

The guarantee: ``estimated_sigma(images)`` gives one finite sigma of at least 0 per image, the
same for the same pixels: scikit-image's wavelet estimate, or 0 for a flat image.
"""

import warnings

import numpy as np
from skimage.restoration import estimate_sigma


def estimated_sigma(images: np.ndarray) -> np.ndarray:
    """The Gaussian noise sigma of each (H, W, C) image, estimated from the image alone
    (scikit-image's wavelet estimate, Donoho's median absolute deviation; for colour, the mean
    of the channels' estimates), shape (N,). A flat image, where the estimate has no detail
    coefficient to read and gives NaN, has no noise: 0."""
    with warnings.catch_warnings():  # a flat image's empty mean: NaN, and a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        sigmas = _estimates(images)
    return np.nan_to_num(np.array(sigmas, dtype=np.float64), nan=0.0)


def _estimates(images: np.ndarray) -> list[float]:
    if images.shape[-1] > 1:
        return [
            estimate_sigma(image.astype(np.float64), channel_axis=-1, average_sigmas=True)
            for image in images
        ]
    return [estimate_sigma(image[..., 0].astype(np.float64)) for image in images]
