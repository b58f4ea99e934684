"""The clipped-Gaussian mean (Foi 2009) against Monte-Carlo means, and its inverse."""

import numpy as np
import pytest

from denoising.clipping import clipped_mean, debias


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.3, 0.5, 0.8])
def test_the_closed_form_is_the_monte_carlo_mean(sigma):
    rng = np.random.default_rng(7)
    clean = np.linspace(0, 1, 21)
    draws = np.clip(clean[:, None] + sigma * rng.standard_normal((21, 400_000)), 0, 1)
    # The Monte-Carlo mean's own error is about sigma / sqrt(400,000) < 0.0013.
    np.testing.assert_allclose(clipped_mean(clean, sigma), draws.mean(axis=1), atol=0.004)


def test_a_black_pixel_is_pulled_towards_grey_and_the_mean_only_grows():
    assert clipped_mean(0.0, 0.5) == pytest.approx(0.1952, abs=1e-4)
    assert clipped_mean(1.0, 0.5) == pytest.approx(1 - 0.1952, abs=1e-4)
    assert clipped_mean(0.5, 0.5) == pytest.approx(0.5)
    means = clipped_mean(np.linspace(0, 1, 1001), 0.8)
    assert np.all(np.diff(means) > 0)


@pytest.mark.parametrize("sigma", [0.0, 0.1, 0.3, 0.5, 0.8])
def test_debias_inverts_the_mean(sigma):
    clean = np.random.default_rng(1).uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)
    back = debias(clipped_mean(clean, sigma).astype(np.float32), sigma)
    assert back.shape == clean.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, clean, atol=1e-4)


def test_means_outside_the_clean_range_give_black_and_white():
    low = float(clipped_mean(0.0, 0.3))
    out = debias(np.array([0.0, low / 2, low, 1 - low, 1 - low / 2, 1.0]), 0.3)
    np.testing.assert_allclose(out, [0, 0, 0, 1, 1, 1], atol=1e-6)


def test_the_command_applies_the_correction_that_a_card_asks_for(tmp_path, models):
    """An identity model whose card asks for the clipped mean's inverse at 0.5: each pixel comes
    out as debias(its value), in tiles or not; a card with a bad correction is refused."""
    import json
    import shutil

    from PIL import Image

    from denoising.command.denoise_images import main

    model = tmp_path / "identity"
    shutil.copytree(models["identity"], model)
    card = json.loads((model / "card.json").read_text())
    card["correction"] = {"inverts": "clipped-gaussian-mean", "sigma": 0.5}
    (model / "card.json").write_text(json.dumps(card))
    pixels = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    Image.fromarray(pixels).save(tmp_path / "ramp.png")
    main([str(model), str(tmp_path / "ramp.png"), "-o", str(tmp_path / "out")])
    out = np.asarray(Image.open(tmp_path / "out/ramp.png"))
    expected = np.round(debias(pixels / 255.0, 0.5) * 255).astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert out[0, 0] == 0 and out[0, 40] == 0 and out[0, 255] == 255  # 40/255 < mean of black
    card["correction"] = {"inverts": "something else", "sigma": 0.5}
    (model / "card.json").write_text(json.dumps(card))
    from denoising.errors import UserError

    with pytest.raises(UserError, match="correction: .* is not allowed"):
        main([str(model), str(tmp_path / "ramp.png"), "-o", str(tmp_path / "again")])


def test_real_images_that_clip_are_corrected_at_their_estimated_sigma(tmp_path):
    """A share of pixels at 0 or 1 at or above CLIPPED_SHARE asks for the correction, at the
    median wavelet estimate of sigma; fewer asks for none. A RowFile gives what the array does."""
    from denoising.rows import RowWriter
    from denoising.train.real_clipping import CLIPPED_SHARE, real_clipping

    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:64, 0:64]
    clean = np.where((rows // 16 + cols // 16) % 2, 0.7, 0.05)  # dark squares at 0.05
    noisy = (clean + 0.08 * rng.standard_normal((20, 64, 64))).astype(np.float32)[..., None]
    clipped = np.clip(noisy, 0, 1)
    found = real_clipping(clipped)
    assert (
        found.share == pytest.approx(np.mean((clipped == 0) | (clipped == 1)))
        and found.share > 0.1
    )
    assert 0.06 < found.sigma < 0.09  # the wavelet estimate, lowered a little by the clipping
    writer = RowWriter(tmp_path / "rows.npy", len(clipped), clipped.shape[1:])
    writer.write(clipped)
    writer.close()
    from denoising.rows import RowFile

    assert real_clipping(RowFile(tmp_path / "rows.npy")) == found
    # The same images squeezed clear of black and white: nothing clips, no correction is asked.
    assert real_clipping(np.clip(0.5 * noisy + 0.25, 0, 1)).sigma is None
    few = np.full((1, 100, 100, 1), 0.5, np.float32)
    few.reshape(-1)[: int(CLIPPED_SHARE * few.size) - 1] = 0.0
    assert real_clipping(few).sigma is None
    few.reshape(-1)[: int(CLIPPED_SHARE * few.size)] = 0.0
    assert real_clipping(few).share == pytest.approx(CLIPPED_SHARE)
