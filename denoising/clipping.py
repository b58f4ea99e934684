"""The mean of a clipped Gaussian observation, and its inverse, after Foi ("Clipped noisy images:
heteroskedastic modeling and practical denoising", Signal Processing 89(12), 2009).

A clean value y in [0, 1] observed as z = clip(y + sigma * n, 0, 1), n ~ N(0, 1), has the mean

    E[z] = (1 - Phi(b)) + y (Phi(b) - Phi(a)) + sigma (phi(a) - phi(b)),  a = -y/sigma,
                                                                           b = (1 - y)/sigma

(Phi, phi: the standard normal's distribution and density), which near black and white is pulled
towards the middle: for sigma 0.5 a black pixel's mean is 0.195. A network trained against noisy
targets (Noise2Noise, Noise2Void, N2V2, Neighbor2Neighbor) learns that mean, not y.

The guarantee: ``clipped_mean(y, sigma)`` is that closed form, exactly, for any array ``y`` in
[0, 1]; it increases strictly with y. ``debias(m, sigma)`` is its inverse: the y in [0, 1]
whose clipped mean is m, within 1e-4, elementwise, keeping the shape and the float dtype of
``m``; means below ``clipped_mean(0, sigma)`` give 0 and above ``clipped_mean(1, sigma)`` give 1.
With sigma 0 both are the identity (clipped to [0, 1]). Only NumPy is needed.
"""

import math

import numpy as np

# The inverse is read off a table of the mean at this many evenly spaced clean values.
TABLE = 4097
_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _ERF(x / math.sqrt(2.0)))


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def clipped_mean(y, sigma: float) -> np.ndarray:
    """E[clip(y + sigma * n, 0, 1)] for clean values ``y``."""
    y = np.asarray(y, dtype=np.float64)
    if sigma <= 0:
        return np.clip(y, 0.0, 1.0)
    a, b = -y / sigma, (1.0 - y) / sigma
    low, high = _cdf(a), _cdf(b)
    return (1.0 - high) + y * (high - low) + sigma * (_pdf(a) - _pdf(b))


def _table(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    clean = np.linspace(0.0, 1.0, TABLE)
    return clipped_mean(clean, sigma), clean


def debias(means, sigma: float) -> np.ndarray:
    """The clean values whose clipped means are ``means`` (see the module's guarantee)."""
    means = np.asarray(means)
    dtype = means.dtype if np.issubdtype(means.dtype, np.floating) else np.float32
    if sigma <= 0:
        return np.clip(means, 0.0, 1.0).astype(dtype)
    table, clean = _table(sigma)
    return np.interp(means, table, clean).astype(dtype)
