"""bench/photos.py's noisy test copies: the same seeded noise, clipped to 8 bits or kept as
float32, and read back as the scores read them."""

import numpy as np
from PIL import Image

from bench.photos import is_colour, load, noisy_copies, overrides
from tests.helpers import gradient


def test_clipped_and_unclipped_copies_hold_the_same_seeded_noise(tmp_path):
    (tmp_path / "test").mkdir()
    Image.fromarray(gradient(48, 40)).save(tmp_path / "test/a.png")
    ((clean, png),) = noisy_copies(tmp_path / "test", 50, tmp_path / "clipped", clip=True)
    ((_, tif),) = noisy_copies(tmp_path / "test", 50, tmp_path / "unclipped", clip=False)
    assert (png.name, tif.name) == ("a.png", "a.tif")
    wide, eight = load(tif), load(png)
    assert wide.dtype == np.float32 and wide.min() < 0 and wide.max() > 1
    np.testing.assert_array_equal(eight, np.round(wide.clip(0, 1) * 255) / 255)
    noise = wide - load(clean)
    assert abs(noise.std() - 50 / 255) < 0.02
    ((_, again),) = noisy_copies(tmp_path / "test", 50, tmp_path / "again", clip=False)
    np.testing.assert_array_equal(load(again), wide)


def test_settings_are_read_as_yaml_into_sections():
    assert overrides(["train.mixed_precision=bfloat16", "models.drunet.widths=[8, 16]"]) == {
        "train": {"mixed_precision": "bfloat16"},
        "models": {"drunet": {"widths": [8, 16]}},
    }


def test_colour_copies_hold_independent_seeded_noise_per_channel(tmp_path):
    (tmp_path / "test").mkdir()
    Image.fromarray(gradient(64, 48)).save(tmp_path / "test/a.png")
    assert is_colour(tmp_path / "test")
    ((clean, tif),) = noisy_copies(tmp_path / "test", 25, tmp_path / "c", clip=False, colour=True)
    noise = load(tif, colour=True) - load(clean, colour=True)
    assert noise.shape == (48, 64, 3)
    assert np.allclose(noise.reshape(-1, 3).std(axis=0), 25 / 255, atol=0.01)
    assert abs(np.corrcoef(noise.reshape(-1, 3).T)[0, 1]) < 0.1
    ((_, png),) = noisy_copies(tmp_path / "test", 25, tmp_path / "p", clip=True, colour=True)
    np.testing.assert_array_equal(
        load(png, True), np.round(load(tif, True).clip(0, 1) * 255) / 255
    )
