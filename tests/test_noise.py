import numpy as np

from denoising.noise import add_noise, gaussian, noise_rng


def test_gaussian_noise_stays_in_range_and_keeps_shape():
    clean = np.random.default_rng(0).uniform(size=(50, 28, 28, 1)).astype(np.float32)
    noisy = add_noise(clean, "gaussian", 0.8, np.random.default_rng(1))
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert not np.array_equal(noisy, clean)


def test_gaussian_noise_has_the_level_as_its_standard_deviation():
    # Mid-grey with a small level is almost never clipped, so the statistics are the Gaussian's.
    clean = np.full((200, 28, 28, 1), 0.5, dtype=np.float32)
    noise = gaussian(clean, 0.1, np.random.default_rng(2)) - clean
    assert abs(noise.mean()) < 0.002
    assert abs(noise.std() - 0.1) < 0.002


def test_level_zero_leaves_images_unchanged():
    clean = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        add_noise(clean, "gaussian", 0.0, noise_rng(0, 0.0, "test")), clean
    )


def test_noise_is_seeded_per_seed_level_and_split():
    clean = np.zeros((4, 8, 8, 1), dtype=np.float32) + 0.5

    def noisy(seed, level, split):
        return add_noise(clean, "gaussian", level, noise_rng(seed, level, split))

    np.testing.assert_array_equal(noisy(7, 0.3, "train"), noisy(7, 0.3, "train"))
    assert not np.array_equal(noisy(7, 0.3, "train"), noisy(8, 0.3, "train"))
    assert not np.array_equal(noisy(7, 0.3, "train"), noisy(7, 0.3, "test"))
    assert not np.allclose(noisy(7, 0.3, "train") - 0.5, (noisy(7, 0.5, "train") - 0.5) * 0.6)
