"""Colour through the pipeline (data.color: rgb): R, G, B rows and what the manifest says of grey
and RGBA files, noise independent per channel, every architecture on three channels, the colour
baselines (CBM3D and the channel axis), colour PSNR and SSIM, denoise-images with a colour model,
and one tiny colour pipeline run by DVC end to end."""

import json

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoising.cards import check_card
from denoising.command.denoise_images import main as denoise_images
from denoising.errors import UserError
from denoising.folders import Reader
from denoising.params import MODEL_PARAMS, validate_params
from denoising.score.baselines import denoise_image
from denoising.score.metrics import image_scores
from denoising.train.noise import add_noise
from stages import preprocess
from tests.helpers import REPO, dvc, make_project, save_with_card


def colour_image(height: int = 40, width: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth colour shapes: a red disc, a green ramp, a blue square, uint8 RGB."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    centre = rng.uniform(10, 30, size=2)
    red = 220 * (np.hypot(rows - centre[0], cols - centre[1]) < 10)
    green = np.tile(np.linspace(0, 255, width), (height, 1))
    blue = 200 * ((rows > height // 3) & (cols < width // 2))
    return np.stack([red, green, blue], -1).astype(np.uint8)


def write_colour_folder(root, count: int, seed: int, size=(32, 32)) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(colour_image(*size, seed=seed + index)).save(root / f"{index:02d}.png")


def write_params(path, data_dir, **data) -> None:
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(dir=str(data_dir), image_size=[16, 16], color="rgb", **data)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_an_rgb_run_keeps_colour_repeats_grey_drops_alpha_and_says_so(tmp_path):
    data = tmp_path / "data"
    write_colour_folder(data / "train", 2, seed=1)
    Image.fromarray(colour_image()[..., 0]).save(data / "train/grey.png")
    rgba = np.concatenate([colour_image(), np.full((40, 48, 1), 128, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(data / "train/rgba.png")
    write_colour_folder(data / "test", 2, seed=5)
    write_params(tmp_path / "params.yaml", data)
    preprocess.main(["--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "o")])
    train = np.load(tmp_path / "o/train.npy")
    assert train.shape == (4, 16, 16, 3) and np.load(tmp_path / "o/test.npy").shape[-1] == 3
    names = [json.loads(line) for line in (tmp_path / "o/train_files.jsonl").read_text().split()]
    grey = train[names.index("grey.png")]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    assert np.abs(train[names.index("rgba.png")] - train[names.index("rgba.png")][..., :1]).max()
    manifest = json.loads((tmp_path / "o/manifest.json").read_text())
    assert (manifest["color"], manifest["channels"]) == ("rgb", 3)
    assert manifest["train"]["grey_repeated"] == 1 and manifest["train"]["alpha_dropped"] == 1
    assert manifest["test"]["grey_repeated"] == 0 and manifest["test"]["alpha_dropped"] == 0


def test_a_grey_run_writes_the_manifest_of_the_original_design(tmp_path):
    data = tmp_path / "data"
    write_colour_folder(data / "train", 2, seed=1)
    write_colour_folder(data / "test", 1, seed=5)
    write_params(tmp_path / "params.yaml", data)
    text = (tmp_path / "params.yaml").read_text().replace("color: rgb", "color: gray")
    (tmp_path / "params.yaml").write_text(text)
    preprocess.main(["--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "o")])
    manifest = json.loads((tmp_path / "o/manifest.json").read_text())
    assert "color" not in manifest and "grey_repeated" not in manifest["train"]
    assert np.load(tmp_path / "o/train.npy").shape == (2, 16, 16, 1)


def test_colour_patches_and_crops_keep_three_channels(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(colour_image(40, 48)).save(path)
    patches, notes = Reader("patches", (16, 16), 10**6, 3, seed=1, channels=3).read(path, "a.png")
    crop, _ = Reader("crop", (32, 32), 10**6, channels=3).read(path, "a.png")
    assert patches.shape == (3, 16, 16, 3) and crop.shape == (1, 32, 32, 3) and notes == []
    np.testing.assert_array_equal(crop[0], colour_image(40, 48)[4:36, 8:40] / np.float32(255))


def test_gaussian_noise_is_independent_per_channel():
    clean = np.full((8, 32, 32, 3), 0.5, dtype=np.float32)
    noisy = add_noise(clean, "gaussian", 0.1, np.random.default_rng(0), clip=False)
    noise = (noisy - clean).reshape(-1, 3)
    assert np.allclose(noise.std(axis=0), 0.1, atol=0.005)
    correlation = np.corrcoef(noise.T)
    assert np.abs(correlation[np.triu_indices(3, 1)]).max() < 0.03


@pytest.mark.parametrize("name", sorted(MODEL_PARAMS))
@pytest.mark.parametrize("level_input", [False, True])
def test_every_model_takes_and_gives_three_channels(name, level_input):
    import yaml

    from denoising.params import build_section
    from denoising.train.models import build_model

    section = yaml.safe_load((REPO / "params.yaml").read_text())["models"][name]
    params = build_section(REPO / "params.yaml", f"models.{name}", section, MODEL_PARAMS[name])
    model = build_model(name, params, (16, 16, 3), 1e-3, "mse", level_input=level_input)
    assert model.input_shape[-1] == 3 + level_input and model.output_shape[-1] == 3
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32) * 0.8 + 0.1
    inputs = np.concatenate([images, np.full((2, 16, 16, 1), 0.1, np.float32)], -1)
    output = np.asarray(model(inputs if level_input else images))
    assert output.shape == (2, 16, 16, 3)
    if getattr(params, "residual", False) or name == "dncnn":
        # Residual models start from zero noise: each channel is its own input at first.
        np.testing.assert_allclose(output, images, atol=1e-6)


def test_colour_baselines_keep_channels_and_cbm3d_uses_their_correlation():
    clean = colour_image(32, 32).astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.1, clean.shape), 0, 1)
    settings = {"gaussian_sigma": 1.0, "median_size": 3}
    results = {m: denoise_image(m, noisy, 0.1, settings) for m in ("gaussian", "median", "tv")}
    results |= {m: denoise_image(m, noisy, 0.1, settings) for m in ("nlm", "bm3d", "cbm3d")}
    for method, result in results.items():
        assert result.shape == (32, 32, 3) and 0 <= result.min() and result.max() <= 1, method
    # The filters never mix channels: each channel is the grey method on that channel.
    for method in ("gaussian", "median", "bm3d"):
        for channel in range(3):
            alone = denoise_image(method, noisy[..., channel], 0.1, settings)
            np.testing.assert_allclose(results[method][..., channel], alone, atol=1e-6)
    # CBM3D filters in an opponent colour space: not R, G and B one by one.
    assert np.abs(results["cbm3d"] - results["bm3d"]).max() > 1e-3
    with pytest.raises(ValueError, match="colour"):
        denoise_image("cbm3d", noisy[..., 0], 0.1, settings)


def test_colour_psnr_and_ssim_are_scikit_images_over_all_channels():
    rng = np.random.default_rng(0)
    clean = rng.random((3, 24, 24, 3)).astype(np.float32)
    estimate = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    scores = image_scores(clean, estimate)
    for index in range(3):
        c, e = clean[index].astype(np.float64), estimate[index].astype(np.float64)
        assert scores["psnr"][index] == pytest.approx(peak_signal_noise_ratio(c, e, data_range=1))
        ssim = structural_similarity(c, e, data_range=1, channel_axis=-1)
        assert scores["ssim"][index] == pytest.approx(ssim)


def test_cbm3d_needs_an_rgb_run(tmp_path):
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["baselines"]["methods"] = ["cbm3d"]
    params["visualize"]["baselines"] = []
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError, match="cbm3d denoises colour images; it needs data.color rgb"):
        validate_params(tmp_path / "params.yaml")


@pytest.fixture(scope="module")
def colour_models(tmp_path_factory):
    """An identity colour model and an identity grey one, with their cards."""
    import keras
    from keras import layers

    root = tmp_path_factory.mktemp("colour-models")
    made = {}
    for name, channels in (("colour", 3), ("grey", 1)):
        inputs = keras.Input(shape=(None, None, channels))
        model = keras.Model(inputs, layers.Identity()(inputs), name=f"identity_{name}")
        made[name] = save_with_card(model, root / name, "any", 1)
    card = json.loads((made["colour"] / "card.json").read_text())
    (made["colour"] / "card.json").write_text(json.dumps(card | {"channels": 3}))
    return made


def test_a_colour_model_on_colour_grey_and_rgba_images(tmp_path, colour_models, capsys):
    pixels = colour_image()
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    Image.fromarray(pixels[..., 1]).save(tmp_path / "grey.png")
    alpha = np.tile(np.arange(48, dtype=np.uint8) * 5, (40, 1))[..., np.newaxis]
    Image.fromarray(np.concatenate([pixels, alpha], -1), "RGBA").save(tmp_path / "rgba.png")
    inputs = [tmp_path / name for name in ("rgb.png", "grey.png", "rgba.png")]
    denoise_images([str(colour_models["colour"]), *map(str, inputs), "-o", str(tmp_path / "o")])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o/rgb.png")), pixels)
    grey = Image.open(tmp_path / "o/grey.png")
    assert grey.mode == "L"
    np.testing.assert_array_equal(np.asarray(grey), pixels[..., 1])
    rgba = np.asarray(Image.open(tmp_path / "o/rgba.png"))
    np.testing.assert_array_equal(rgba[..., :3], pixels)
    np.testing.assert_array_equal(rgba[..., 3:], alpha)
    said = capsys.readouterr().err
    assert "grey.png is grey: its channel is repeated into R, G and B" in said


def test_a_colour_model_is_tiled_exactly(tmp_path, colour_models):
    pixels = colour_image(300, 280)
    Image.fromarray(pixels).save(tmp_path / "big.png")
    args = ["--tile", "64", "--overlap", "16", "-o", str(tmp_path / "o")]
    denoise_images([str(colour_models["colour"]), str(tmp_path / "big.png"), *args])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o/big.png")), pixels)


def test_a_grey_model_on_colour_says_a_colour_model_would_do_better(
    tmp_path, colour_models, capsys
):
    (tmp_path / "in").mkdir()
    Image.fromarray(colour_image()).save(tmp_path / "in/a.png")
    Image.fromarray(colour_image(seed=3)).save(tmp_path / "in/b.png")
    denoise_images([str(colour_models["grey"]), str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o/a.png")), colour_image())
    said = capsys.readouterr().err
    assert said.count("a colour model (trained with data.color: rgb) would do better") == 1


def test_a_card_with_channels_is_validated(tmp_path):
    card = {"model": "unet", "input_shape": [16, 16, 3], "size_multiple": 4, "channels": 3}
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert check_card(tmp_path / "card.json")["channels"] == 3
    (tmp_path / "card.json").write_text(json.dumps(card | {"channels": 2}))
    with pytest.raises(UserError, match="channels: 2 is not allowed; it must be 1 or 3"):
        check_card(tmp_path / "card.json")
    (tmp_path / "card.json").write_text(json.dumps(card | {"channels": 1}))
    with pytest.raises(UserError, match=r"input_shape: \[16, 16, 3\] contradicts channels 1"):
        check_card(tmp_path / "card.json")


@pytest.mark.e2e
def test_a_tiny_colour_pipeline_runs_end_to_end(tmp_path):
    images = tmp_path / "images"
    write_colour_folder(images / "train", 24, seed=1)
    write_colour_folder(images / "test", 8, seed=100)
    project = make_project(
        tmp_path / "project",
        images,
        [0.3],
        ["conv"],
        data={"color": "rgb", "image_size": [32, 32]},
        baselines={"methods": ["median", "cbm3d"]},
        visualize={"baselines": ["cbm3d"]},
        train={"blind_models": ["conv"]},
    )
    dvc(project, "repro")
    card = json.loads((project / "models/conv/0.3/card.json").read_text())
    assert card["channels"] == 3 and card["data"]["image_shape"] == [32, 32]
    compared = json.loads((project / "metrics/compare/0.3.json").read_text())
    assert {"noisy", "conv", "conv-blind", "median", "cbm3d"} <= set(compared)
    assert compared["cbm3d"]["psnr"] > compared["noisy"]["psnr"]
    figure = np.asarray(Image.open(project / "plots/figures/0.3_noise.png").convert("RGB"))
    red, green = figure[..., 0].astype(int), figure[..., 1].astype(int)
    assert (np.abs(red - green) > 60).mean() > 0.01, "the figure shows colour"
    # The apply stage ran the colour model on data/examples' grey digits: grey results.
    applied = Image.open(project / "data/applied/digits_noise0.5.png")
    assert applied.mode == "L"
