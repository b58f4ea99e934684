"""The self-ensemble (--tta): exact for models that need no help, an average for the others."""

import numpy as np
from PIL import Image

from denoising.command.denoise_images import main
from denoising.command.ensemble import self_ensemble
from tests.helpers import gradient

BATCH = np.random.default_rng(0).random((3, 12, 20, 1)).astype(np.float32)


def test_an_identity_is_left_exactly_as_it_is():
    np.testing.assert_array_equal(self_ensemble(lambda batch: batch)(BATCH), BATCH)


def test_an_orientation_bias_is_averaged_away():
    # A "model" that brightens the left column: the ensemble spreads that over all four sides.
    def biased(batch):
        out = batch.copy()
        out[:, :, 0] += 1.0
        return out

    result = self_ensemble(biased)(BATCH)
    expected = BATCH.copy()
    # Each side of the image is the left side in 2 of the 8 transforms: +2/8 on every side,
    # and a corner pixel is on two sides.
    for index in (0, -1):
        expected[:, index, :] += 0.25
        expected[:, :, index] += 0.25
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_tta_through_denoise_images_on_an_identity_model(tmp_path, models):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    main([str(models["identity"]), str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "--tta"])
    with Image.open(tmp_path / "out/in.png") as result:
        np.testing.assert_array_equal(np.asarray(result), gradient())


def test_tta_with_a_real_model_differs_from_without(tmp_path, models):
    Image.fromarray(gradient()).convert("L").save(tmp_path / "in.png")
    main([str(models["conv"]), str(tmp_path / "in.png"), "-o", str(tmp_path / "plain")])
    main([str(models["conv"]), str(tmp_path / "in.png"), "-o", str(tmp_path / "tta"), "--tta"])
    plain, tta = (np.asarray(Image.open(tmp_path / f"{d}/in.png")) for d in ("plain", "tta"))
    assert plain.shape == tta.shape and not np.array_equal(plain, tta)
