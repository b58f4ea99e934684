import numpy as np
import pytest

from denoising.score.metrics import MAX_PSNR, best_method, psnr, quality, ssim


def test_identical_images_score_the_cap_and_ssim_one():
    images = np.random.default_rng(0).uniform(size=(3, 16, 16, 1))
    assert quality(images, images) == {"psnr": MAX_PSNR, "ssim": pytest.approx(1.0)}


def test_psnr_of_a_known_error():
    # A constant error of 0.1 on a [0, 1] scale: MSE = 0.01, so PSNR = 10 log10(1 / 0.01) = 20 dB.
    clean = np.zeros((2, 16, 16, 1))
    np.testing.assert_allclose(psnr(clean, clean + 0.1), [20.0, 20.0])


def test_psnr_is_averaged_per_image():
    clean = np.zeros((2, 16, 16, 1))
    estimate = np.concatenate([clean[:1] + 0.1, clean[:1] + 0.01])  # 20 dB and 40 dB
    assert quality(clean, estimate)["psnr"] == pytest.approx(30.0)


def test_ssim_falls_with_noise():
    rng = np.random.default_rng(0)
    clean = rng.uniform(size=(2, 32, 32, 1))
    slightly = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1)
    heavily = np.clip(clean + 0.5 * rng.standard_normal(clean.shape), 0, 1)
    assert 1.0 > ssim(clean, slightly).mean() > ssim(clean, heavily).mean()


def test_the_best_method_is_the_highest_psnr_never_the_noisy_input():
    scores = {
        "noise_level": 0.5,
        "images": 3,
        "noisy": {"psnr": 40.0, "ssim": 0.9},
        "conv": {"psnr": 18.0, "ssim": 0.8},
        "bm3d": {"psnr": 19.5, "ssim": 0.7},
    }
    assert best_method(scores) == "bm3d"


def test_figure_rows_are_labelled_with_their_scores():
    from denoising.score.figures import score_label

    assert score_label("unet", {"psnr": 20.017, "ssim": 0.8712}) == "unet\n20.0 dB, 0.87"
    assert score_label("bm3d", {"sigma": 0.00412}) == "bm3d\nsigma 0.004"
    assert score_label("original", None) == "original"


def test_summary_is_a_small_table_per_method_and_one_of_the_best():
    from denoising.names import BEST_TABLE as BEST
    from denoising.score.metrics import summary

    compared = {
        "0.3": {
            "noise_level": 0.3,
            "images": 6,
            "noisy": {"psnr": 10.0, "ssim": 0.2},
            "unet": {"psnr": 20.0, "ssim": 0.8},
            "best_method": "unet",
        },
        "0.5": {
            "noise_level": 0.5,
            "images": 6,
            "noisy": {"psnr": 7.0, "ssim": 0.1},
            "unet": {"psnr": 17.0, "ssim": 0.7},
            "best_method": "unet",
        },
    }
    tables = summary(compared)
    assert tables == {
        "noisy": {"psnr": {"0.3": 10.0, "0.5": 7.0}, "ssim": {"0.3": 0.2, "0.5": 0.1}},
        "unet": {"psnr": {"0.3": 20.0, "0.5": 17.0}, "ssim": {"0.3": 0.8, "0.5": 0.7}},
        BEST: {"best": {"0.3": "unet", "0.5": "unet"}, "test_images": 6},
    }
    # Real noise without references: the estimated sigma, and no best method.
    real = {"real": {"images": 4, "unet": {"sigma": 0.01}, "scores_missing": "no references"}}
    assert summary(real) == {"unet": {"sigma": {"real": 0.01}}, BEST: {"test_images": 4}}


def test_a_flat_image_has_an_estimated_sigma_of_zero_not_nan():
    from denoising.sigma import estimated_sigma

    flat = np.zeros((2, 16, 16, 1), np.float32)
    np.testing.assert_array_equal(estimated_sigma(flat), [0.0, 0.0])
    noisy = 0.5 + 0.1 * np.random.default_rng(0).standard_normal((1, 64, 64, 3))
    assert 0.08 < estimated_sigma(noisy)[0] < 0.12
