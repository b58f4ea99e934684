import numpy as np
import pytest

from denoising.names import SPLITS
from denoising.params import NOISE_TYPES
from denoising.train.noise import NOISE_MODELS, add_noise, noise_rng

# Statistics on a large sample: a mid-grey image, 200 x 28 x 28 = 156,800 pixels.
GREY = np.full((200, 28, 28, 1), 0.5, dtype=np.float32)


def test_every_param_noise_type_has_a_model():
    assert set(NOISE_MODELS) == set(NOISE_TYPES)


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
def test_clipped_noise_stays_in_range_and_keeps_shape(noise_type):
    clean = np.random.default_rng(0).uniform(size=(50, 28, 28, 1)).astype(np.float32)
    noisy = add_noise(clean, noise_type, 0.8, np.random.default_rng(1), clip=True)
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert not np.array_equal(noisy, clean)


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
def test_level_zero_leaves_images_unchanged(noise_type):
    clean = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    noisy = add_noise(clean, noise_type, 0.0, noise_rng(0, 0.0, 1), clip=True)
    np.testing.assert_array_equal(noisy, clean)


def test_gaussian_unclipped_has_mean_zero_and_the_level_as_sigma():
    noise = add_noise(GREY, "gaussian", 0.3, np.random.default_rng(2), clip=False) - GREY
    assert abs(noise.mean()) < 0.003 and abs(noise.std() - 0.3) < 0.003
    assert noise.max() > 0.5, "unclipped noise must leave [0, 1]"


def test_poisson_has_the_signal_as_mean_and_level_squared_times_signal_as_variance():
    noisy = add_noise(GREY, "poisson", 0.2, np.random.default_rng(3), clip=False)
    assert abs(noisy.mean() - 0.5) < 0.002
    assert abs(noisy.var() - 0.5 * 0.2**2) < 0.0005


def test_poisson_gaussian_has_the_level_at_white_and_a_signal_dependent_variance():
    level = 0.2
    white = add_noise(
        np.ones_like(GREY), "poisson_gaussian", level, np.random.default_rng(7), False
    )
    # At white, shot and read noise add up to the level, whatever each image's shot share.
    np.testing.assert_allclose(white.reshape(200, -1).std(axis=1), level, rtol=0.1)
    # At mid-grey the variance is level**2 * (share / 2 + 1 - share): 0.75 level**2 on average.
    grey = add_noise(GREY, "poisson_gaussian", level, np.random.default_rng(8), clip=False)
    assert abs(grey.mean() - 0.5) < 0.002 and abs(grey.var() - 0.75 * level**2) < 0.001
    # At black only read noise is left, and its share differs between images.
    black = add_noise(
        np.zeros_like(GREY), "poisson_gaussian", level, np.random.default_rng(9), False
    )
    spread = black.reshape(200, -1).std(axis=1)
    assert spread.min() < 0.05 and spread.max() > 0.18 and np.all(spread <= level * 1.1)


def neighbour_correlation(noise: np.ndarray) -> float:
    """The correlation of the noise of horizontally neighbouring pixels."""
    return float((noise[:, :, 1:] * noise[:, :, :-1]).mean() / (noise * noise).mean())


@pytest.mark.parametrize("channels", [1, 3])
def test_camera_noise_is_spread_over_neighbours_and_stored_as_8_bit_jpeg(channels):
    clean = np.full((100, 32, 32, channels), 0.5, dtype=np.float32)
    white = add_noise(clean, "poisson_gaussian", 0.1, np.random.default_rng(3), clip=True)
    noisy = add_noise(clean, "camera", 0.1, np.random.default_rng(3), clip=True)
    # Poisson-Gaussian noise is white; the camera's is blurred, as demosaicing leaves it.
    assert abs(neighbour_correlation(white - clean)) < 0.02
    assert neighbour_correlation(noisy - clean) > 0.2
    # Blurring keeps the noise's standard deviation; JPEG removes a part of it.
    assert 0.5 * (white - clean).std() < (noisy - clean).std() < 1.1 * (white - clean).std()
    assert abs(noisy.mean() - 0.5) < 0.005
    np.testing.assert_allclose(noisy * 255, np.round(noisy * 255), atol=1e-4)  # 8 bits
    again = add_noise(clean, "camera", 0.1, np.random.default_rng(3), clip=True)
    np.testing.assert_array_equal(noisy, again)


def test_salt_and_pepper_hits_the_level_as_a_fraction_half_each_way():
    noisy = add_noise(GREY, "salt_and_pepper", 0.1, np.random.default_rng(4), clip=True)
    hit = noisy != 0.5
    assert abs(hit.mean() - 0.1) < 0.003
    assert abs((noisy[hit] == 1.0).mean() - 0.5) < 0.02 and set(np.unique(noisy[hit])) == {0, 1}


def test_speckle_is_multiplicative():
    noisy = add_noise(GREY, "speckle", 0.2, np.random.default_rng(5), clip=False)
    assert abs(noisy.mean() - 0.5) < 0.002 and abs(noisy.std() - 0.5 * 0.2) < 0.002
    black = np.zeros_like(GREY)
    np.testing.assert_array_equal(
        add_noise(black, "speckle", 0.5, np.random.default_rng(5), clip=True), black
    )


def test_one_level_per_image_broadcasts():
    levels = np.array([0.0, 0.5], dtype=np.float32).reshape(2, 1, 1, 1)
    for noise_type in NOISE_TYPES:
        noisy = add_noise(GREY[:2], noise_type, levels, np.random.default_rng(6), clip=True)
        np.testing.assert_array_equal(noisy[0], GREY[0])
        assert not np.array_equal(noisy[1], GREY[1])


def test_noise_is_seeded_per_seed_level_and_split():
    def noisy(seed, level, split):
        return add_noise(
            GREY[:4], "gaussian", level, noise_rng(seed, level, SPLITS.index(split)), clip=True
        )

    np.testing.assert_array_equal(noisy(7, 0.3, "train"), noisy(7, 0.3, "train"))
    assert not np.array_equal(noisy(7, 0.3, "train"), noisy(8, 0.3, "train"))
    assert not np.array_equal(noisy(7, 0.3, "train"), noisy(7, 0.3, "test"))
    assert not np.allclose(noisy(7, 0.3, "train") - 0.5, (noisy(7, 0.5, "train") - 0.5) * 0.6)
