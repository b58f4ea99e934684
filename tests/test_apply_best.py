"""apply.model: best/<level>: the apply stage runs the method that compare measured best among
those denoise-images can run, passing over the others in PSNR order."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from denoising.errors import UserError
from denoising.experiments.choice import choose
from denoising.params import validate_params
from tests.helpers import REPO, gradient


def compared(**psnr):
    return {"noisy": {"psnr": 1.0, "ssim": 0.1}, "images": 3} | {
        name: {"psnr": value, "ssim": 0.5} for name, value in psnr.items()
    }


@pytest.fixture
def models_dir(tmp_path, models):
    """models/conv/0.5 and models/conv/blind (told the level), as the train stage lays them out."""
    root = tmp_path / "models"
    for folder, told in (("0.5", False), ("blind", True)):
        target = root / "conv" / folder
        target.mkdir(parents=True)
        for name in ("model.keras", "card.json"):
            target.joinpath(name).write_bytes((models["conv"] / name).read_bytes())
        card = json.loads((target / "card.json").read_text()) | {"level_input": told}
        (target / "card.json").write_text(json.dumps(card))
    return root


def test_the_best_runnable_method_is_chosen_in_psnr_order(models_dir):
    scores = compared(median=20.0, gaussian=19.5, **{"conv-blind": 19.0, "conv": 18.0})
    method, psnr, args, passed = choose(scores, "0.5", models_dir)
    assert (method, psnr, passed) == ("conv-blind", 19.0, ["median", "gaussian"])
    assert args == [str(models_dir / "conv/blind"), "--sigma", "0.5"]
    method, _, args, _ = choose(compared(conv=18.0, bm3d=18.5), "0.5", models_dir)
    assert (method, args) == ("bm3d", ["bm3d", "--sigma", "0.5"])
    method, _, args, _ = choose(compared(conv=18.0, unet=25.0), "0.5", models_dir)
    assert (method, args) == ("conv", [str(models_dir / "conv/0.5")])  # unet is not trained.


def test_real_noise_has_no_sigma_to_tell(models_dir):
    real = models_dir / "conv/real"
    real.mkdir()
    for name in ("model.keras", "card.json"):
        (real / name).write_bytes((models_dir / "conv/0.5" / name).read_bytes())
    method, _, args, passed = choose(compared(bm3d=30.0, conv=20.0), "real", models_dir)
    assert (method, args, passed) == ("conv", [str(real)], ["bm3d"])
    missing = {"scores_missing": "no clean references (test_clean/) to score against"}
    with pytest.raises(UserError, match="best/real: nothing to apply: no clean references"):
        choose(missing, "real", models_dir)


@pytest.mark.parametrize("best", ["conv", "bm3d"])
def test_the_apply_stage_denoises_with_the_best_method(tmp_path, models_dir, best):
    from stages import apply

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    noisy = np.clip(gradient()[..., 0] + rng.normal(0, 25, (30, 40)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(photos / "in.png")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["apply"].update(model="best/0.5", input_dir=str(photos), resize=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "compare").mkdir()
    scores = compared(conv=20.0, bm3d=21.0 if best == "bm3d" else 19.0, median=22.0)
    (tmp_path / "compare/0.5.json").write_text(json.dumps(scores))
    out = tmp_path / "applied"
    apply.main(
        ["--params", str(tmp_path / "params.yaml"), "--models-dir", str(models_dir)]
        + ["--compare-dir", str(tmp_path / "compare"), "--out-dir", str(out)]
    )
    result = np.asarray(Image.open(out / "in.png"))
    assert result.shape == noisy.shape and not np.array_equal(result, noisy)
    if best == "bm3d":  # BM3D smooths the noise away; the untrained conv does something else.
        assert (
            np.abs(np.diff(result.astype(float), axis=1)).mean()
            < np.abs(np.diff(noisy.astype(float), axis=1)).mean()
        )


def test_best_needs_a_compared_level(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["apply"]["model"] = "best/0.7"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError) as error:
        validate_params(tmp_path / "params.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'params.yaml'}: apply.model: 'best/0.7' is not compared; its level must "
        "be in noise.levels"
    )
    params["apply"]["model"] = "best/0.5"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    validate_params(tmp_path / "params.yaml")
