"""Noise models. Each takes clean images in [0, 1], a level, a NumPy generator and a clip flag."""

import io
from collections.abc import Callable

import numpy as np


def gaussian(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """The original design's noise: ``clean + level * N(0, 1)``, clipped to [0, 1] if ``clip``."""
    noisy = clean + np.asarray(level, dtype=np.float32) * rng.standard_normal(
        clean.shape, dtype=np.float32
    )
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def poisson(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """Shot noise: photon counts ``Poisson(clean * peak) / peak`` with ``peak = 1 / level**2``, so
    the noise's standard deviation is ``level * sqrt(clean)``: ``level`` at full brightness."""
    level = np.asarray(level, dtype=np.float64)
    # A level of 0 means infinitely many photons: no noise. Its pixels are kept as they are.
    peak = 1.0 / np.maximum(level, 1e-6) ** 2
    counts = rng.poisson(clean.astype(np.float64) * peak) / peak
    noisy = np.where(level > 0, counts, clean).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def poisson_gaussian(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """Camera-like noise: shot noise (``poisson``) plus read noise (``gaussian``), so the variance
    is ``level**2 * (share * clean + 1 - share)``: ``level`` is the standard deviation at white,
    and ``share``, the shot noise's part of it, is drawn uniformly in [0, 1] for each image (each
    first-axis entry), from pure read noise to pure shot noise, as noise differs between
    cameras and ISO settings (Foi et al. 2008's Poissonian-Gaussian model)."""
    share = rng.random((clean.shape[0],) + (1,) * (clean.ndim - 1))
    level = np.asarray(level, dtype=np.float64)
    shot = poisson(clean, level * np.sqrt(share), rng, clip=False)
    noisy = gaussian(shot, level * np.sqrt(1.0 - share), rng, clip=False)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


# camera: the range of the blur that spreads each image's noise over its neighbours (the
# Gaussian's standard deviation, in pixels) and of its JPEG quality, both drawn per image.
CAMERA_BLUR = (0.0, 1.0)
CAMERA_QUALITY = (75, 95)


def camera(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """Noise as a camera's processing leaves it in a photo: ``poisson_gaussian`` noise (``level``
    its standard deviation at white), spread over neighbouring pixels as demosaicing spreads it
    (blurred by a Gaussian whose standard deviation is drawn in ``CAMERA_BLUR`` per image, and
    scaled back to the standard deviation it had), then the noisy image stored as an 8-bit JPEG
    of a quality drawn in ``CAMERA_QUALITY`` per image, and decoded: always clipped to [0, 1],
    as JPEG stores them. An image at level 0 is left as it is (no noise, no JPEG). ``clean``:
    images, (count, height, width, channels) with 1 or 3 channels."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    noise = poisson_gaussian(clean, level, rng, clip=False) - clean
    levels = np.broadcast_to(np.asarray(level), (clean.shape[0],) + (1,) * (clean.ndim - 1))
    noisy = clean.astype(np.float32, copy=True)
    for index in range(clean.shape[0]):
        blur = rng.uniform(*CAMERA_BLUR)
        quality = int(rng.integers(CAMERA_QUALITY[0], CAMERA_QUALITY[1] + 1))
        if levels[index].item() <= 0:
            continue
        if blur > 0:
            kernel = gaussian_filter(np.pad([[1.0]], 4), blur)  # white noise's std shrinks by
            spread = gaussian_filter(noise[index], (blur, blur, 0)) / np.sqrt((kernel**2).sum())
        else:
            spread = noise[index]
        pixels = np.clip(clean[index] + spread, 0.0, 1.0)
        image = np.round(pixels * 255).astype(np.uint8)
        stored = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            stored, format="JPEG", quality=quality
        )
        decoded = np.asarray(Image.open(stored), dtype=np.float32) / 255
        noisy[index] = decoded.reshape(clean.shape[1:])
    return noisy


def salt_and_pepper(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """A fraction ``level`` of the pixels, chosen at random, set to 0 or 1 with equal odds."""
    noisy = clean.copy()
    hit = rng.random(clean.shape) < level
    noisy[hit] = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
    return noisy


def speckle(clean: np.ndarray, level, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """Multiplicative noise: ``clean * (1 + level * N(0, 1))``, clipped to [0, 1] if ``clip``."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32)
    noisy = clean * (1.0 + np.asarray(level, dtype=np.float32) * noise)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


NOISE_MODELS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian,
    "poisson": poisson,
    "poisson_gaussian": poisson_gaussian,
    "camera": camera,
    "salt_and_pepper": salt_and_pepper,
    "speckle": speckle,
}


def noise_rng(seed: int, level: float, split: int) -> np.random.Generator:
    """A generator of its own for each (seed, level, split number), so no two arrays share
    noise."""
    return np.random.default_rng([seed, round(level * 1_000_000), split])


def add_noise(
    clean: np.ndarray, noise_type: str, level, rng: np.random.Generator, clip: bool
) -> np.ndarray:
    """Apply the noise model named ``noise_type``; float32 in, float32 out. ``level`` is one
    number, or an array that broadcasts against ``clean`` (one level per image)."""
    return NOISE_MODELS[noise_type](clean, level, rng, clip).astype(np.float32, copy=False)
