"""Classical denoisers, each told the noise sigma (the true one, or for real noise the one
estimated from each image): what people would use without a model."""

import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import bm3d
import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle


def _gaussian(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    return ndimage.gaussian_filter(image, sigma=settings["gaussian_sigma"], mode="reflect")


def _median(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    return ndimage.median_filter(image, size=settings["median_size"], mode="reflect")


def _tv(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    # Chambolle's weight trades fidelity for smoothness; the noise sigma is its natural scale.
    return denoise_tv_chambolle(image, weight=sigma)


def _nlm(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    # scikit-image's recommended setting for a known sigma: h = 0.8 sigma, 5x5 patches.
    return denoise_nl_means(
        image, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True
    )


def _bm3d(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    # BM3D's own threads make its output differ in the last bits from run to run (its docs say
    # so), and gain nothing on 28x28 images. One thread per call; the process pool parallelises.
    profile = bm3d.BM3DProfile()
    profile.num_threads = 1
    return bm3d.bm3d(image, sigma_psd=sigma, profile=profile)


METHODS = {"gaussian": _gaussian, "median": _median, "tv": _tv, "nlm": _nlm, "bm3d": _bm3d}


def denoise_image(method: str, image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    """Denoise one (H, W) image in [0, 1] with ``method``; the result is clipped to [0, 1]."""
    if sigma == 0:
        return image.copy()  # Nothing to remove, and some methods divide by sigma.
    result = METHODS[method](image.astype(np.float64), sigma, settings)
    return np.clip(result, 0.0, 1.0).astype(np.float32)


def _timed(method: str, settings: dict, image: np.ndarray, sigma: float):
    start = time.perf_counter()
    result = denoise_image(method, image, sigma, settings)
    return result, time.perf_counter() - start


def run_method(
    method: str, images: np.ndarray, sigma, settings: dict, workers: int
) -> tuple[np.ndarray, float]:
    """Denoise (N, H, W, 1) ``images`` on ``workers`` processes (0: all cores), told ``sigma``:
    one number, or one per image.

    Returns the results in input order and the mean seconds per image on one core.
    """
    work = partial(_timed, method, settings)
    planes = list(images[..., 0])
    sigmas = [float(s) for s in np.broadcast_to(sigma, len(planes))]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        chunk = max(1, len(planes) // 32)
        results = list(pool.map(work, planes, sigmas, chunksize=chunk))
    denoised = np.stack([image for image, _ in results])[..., np.newaxis]
    return denoised, float(np.mean([seconds for _, seconds in results]))


def subset_indices(count: int, max_images: int, seed: int) -> np.ndarray:
    """A seeded, sorted subset of test indices, the same at every noise level."""
    rng = np.random.default_rng([seed, count])
    return np.sort(rng.choice(count, size=min(max_images, count), replace=False))
