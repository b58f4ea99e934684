"""Classical methods as first-class denoisers in denoise-images: bm3d, nlm and tv, told sigma."""

import numpy as np
import pytest
from PIL import Image

from denoising.command.denoise_images import main
from denoising.score.baselines import denoise_image
from tests.test_command_safety import refused

CLEAN = np.tile(np.linspace(0.2, 0.8, 48, dtype=np.float32), (40, 1))


def noisy_png(path):
    noisy = CLEAN + 0.1 * np.random.default_rng(3).standard_normal(CLEAN.shape, dtype=np.float32)
    eight = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(eight).save(path)
    return eight.astype(np.float32) / 255


@pytest.mark.parametrize("method", ["bm3d", "nlm", "tv"])
def test_a_classical_method_gives_what_the_baselines_stage_would(tmp_path, method, capsys):
    noisy = noisy_png(tmp_path / "in.png")
    main([method, str(tmp_path / "in.png"), "--sigma", "0.1", "-o", str(tmp_path / "out")])
    with Image.open(tmp_path / "out/in.png") as result:
        got = np.asarray(result)
    want = np.round(denoise_image(method, noisy, 0.1, {}) * 255).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    # And it denoises: closer to the clean image than the noisy input is.
    assert np.abs(got / 255 - CLEAN).mean() < np.abs(noisy - CLEAN).mean()
    assert "denoised 1 images" in capsys.readouterr().err


def test_a_classical_method_without_sigma_is_one_line(tmp_path, capsys, monkeypatch):
    noisy_png(tmp_path / "in.png")
    errors = refused(capsys, monkeypatch, ["bm3d", tmp_path / "in.png", "-o", tmp_path / "out"])
    assert errors == ["error: bm3d: give the noise level with --sigma (0.1 is 25.5 of 255)"]
    assert not (tmp_path / "out").exists()


def test_sigma_with_a_trained_model_is_one_line(tmp_path, models, capsys, monkeypatch):
    noisy_png(tmp_path / "in.png")
    argv = [models["conv"], tmp_path / "in.png", "--sigma", "0.1", "-o", tmp_path / "out"]
    errors = refused(capsys, monkeypatch, argv)
    assert len(errors) == 1 and "takes no noise level" in errors[0]
