import numpy as np
import pytest

from denoising.names import BASELINE_NAMES, COLOR_ONLY
from denoising.score.baselines import METHODS, denoise_image, run_method, subset_indices
from denoising.score.metrics import quality

SETTINGS = {"gaussian_sigma": 1.0, "median_size": 3}


def blob_and_noisy(sigma=0.2, seed=0):
    # A smooth bright blob: every method, even a plain blur, must clean it up.
    rows, cols = np.mgrid[0:24, 0:24]
    clean = np.exp(-((rows - 12.0) ** 2 + (cols - 12.0) ** 2) / 50.0).astype(np.float32)
    noise = sigma * np.random.default_rng(seed).standard_normal(clean.shape)
    return clean, np.clip(clean + noise, 0, 1).astype(np.float32)


def test_every_param_baseline_name_has_a_method():
    assert set(METHODS) == set(BASELINE_NAMES)


def colour_blob_and_noisy(sigma=0.2, seed=0):
    # The blob in three shades, with noise drawn independently for every channel.
    clean = blob_and_noisy()[0][..., np.newaxis] * np.array([1.0, 0.6, 0.3], np.float32)
    noise = sigma * np.random.default_rng(seed).standard_normal(clean.shape)
    return clean, np.clip(clean + noise, 0, 1).astype(np.float32)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_baseline_reduces_noise_on_a_tiny_image(method):
    clean, noisy = colour_blob_and_noisy() if method in COLOR_ONLY else blob_and_noisy()
    denoised = denoise_image(method, noisy, 0.2, SETTINGS)
    assert denoised.shape == noisy.shape and denoised.dtype == np.float32
    assert denoised.min() >= 0.0 and denoised.max() <= 1.0
    error_before = np.mean((noisy - clean) ** 2)
    assert np.mean((denoised - clean) ** 2) < error_before


def test_zero_sigma_leaves_the_image_alone():
    _, noisy = blob_and_noisy()
    np.testing.assert_array_equal(denoise_image("bm3d", noisy, 0.0, SETTINGS), noisy)


def test_run_method_keeps_order_and_times_each_image():
    pairs = [blob_and_noisy(seed=seed) for seed in range(3)]
    clean = np.stack([c for c, _ in pairs])[..., None]
    noisy = np.stack([n for _, n in pairs])[..., None]
    denoised, seconds = run_method("median", noisy, 0.2, SETTINGS, workers=2)
    for index in range(3):
        expected = denoise_image("median", noisy[index, ..., 0], 0.2, SETTINGS)
        np.testing.assert_array_equal(denoised[index, ..., 0], expected)
    assert seconds > 0
    assert quality(clean, denoised)["psnr"] > quality(clean, noisy)["psnr"]


def test_subset_is_seeded_sorted_and_bounded():
    first = subset_indices(1000, 300, seed=5)
    assert len(first) == 300 and len(set(first)) == 300
    assert np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(first, subset_indices(1000, 300, seed=5))
    assert not np.array_equal(first, subset_indices(1000, 300, seed=6))
    np.testing.assert_array_equal(subset_indices(10, 300, seed=5), np.arange(10))
