"""Classical denoisers, each told the noise sigma (the true one, or for real noise the one
estimated from each image): what people would use without a model.

A grey image is (H, W); a colour one (H, W, 3), which the filters and total variation and
non-local means take along scikit-image's channel axis (the filters channel by channel), BM3D
channel by channel, and CBM3D (``cbm3d``) in BM3D's opponent colour space, as colour papers
report it."""

import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import bm3d
import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle


def _colour(image: np.ndarray) -> dict:
    """scikit-image's argument for a colour image's channel axis."""
    return {"channel_axis": -1} if image.ndim == 3 else {}


def _gaussian(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    spread = settings["gaussian_sigma"]
    spread = (spread, spread, 0) if image.ndim == 3 else spread  # never across channels
    return ndimage.gaussian_filter(image, sigma=spread, mode="reflect")


def _median(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    size = settings["median_size"]
    size = (size, size, 1) if image.ndim == 3 else size  # each channel by itself
    return ndimage.median_filter(image, size=size, mode="reflect")


def _tv(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    # Chambolle's weight trades fidelity for smoothness; the noise sigma is its natural scale.
    return denoise_tv_chambolle(image, weight=sigma, **_colour(image))


def _nlm(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    # scikit-image's recommended setting for a known sigma: h = 0.8 sigma, 5x5 patches.
    return denoise_nl_means(
        image,
        h=0.8 * sigma,
        sigma=sigma,
        patch_size=5,
        patch_distance=6,
        fast_mode=True,
        **_colour(image),
    )


def _one_thread() -> bm3d.BM3DProfile:
    # BM3D's own threads make its output differ in the last bits from run to run (its docs say
    # so), and gain nothing on 28x28 images. One thread per call; the process pool parallelises.
    profile = bm3d.BM3DProfile()
    profile.num_threads = 1
    return profile


def _bm3d(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    if image.ndim == 3:  # R, G and B one by one: what a grey denoiser does with colour
        return np.stack([_bm3d(image[..., c], sigma, settings) for c in range(3)], axis=-1)
    return bm3d.bm3d(image, sigma_psd=sigma, profile=_one_thread())


def _cbm3d(image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    if image.ndim != 3:
        raise ValueError("cbm3d denoises colour images (height, width, 3); use bm3d for grey")
    return bm3d.bm3d_rgb(image, sigma_psd=sigma, profile=_one_thread())


METHODS = {
    "gaussian": _gaussian,
    "median": _median,
    "tv": _tv,
    "nlm": _nlm,
    "bm3d": _bm3d,
    "cbm3d": _cbm3d,
}


def denoise_image(method: str, image: np.ndarray, sigma: float, settings: dict) -> np.ndarray:
    """Denoise one (H, W) grey or (H, W, 3) colour image in [0, 1] with ``method``; the result
    is clipped to [0, 1]."""
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
    """Denoise (N, H, W, C) ``images`` on ``workers`` processes (0: all cores), told ``sigma``:
    one number, or one per image.

    Returns the results in input order and the mean seconds per image on one core.
    """
    work = partial(_timed, method, settings)
    colour = images.shape[-1] > 1
    planes = list(images) if colour else list(images[..., 0])
    sigmas = [float(s) for s in np.broadcast_to(sigma, len(planes))]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        chunk = max(1, len(planes) // 32)
        results = list(pool.map(work, planes, sigmas, chunksize=chunk))
    denoised = np.stack([image for image, _ in results])
    denoised = denoised if colour else denoised[..., np.newaxis]
    return denoised, float(np.mean([seconds for _, seconds in results]))


def subset_indices(count: int, max_images: int, seed: int) -> np.ndarray:
    """A seeded, sorted subset of test indices, the same at every noise level."""
    rng = np.random.default_rng([seed, count])
    return np.sort(rng.choice(count, size=min(max_images, count), replace=False))
