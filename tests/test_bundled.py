"""The bundled models: picked by each image's channels with no MODEL, told the estimated (or the
given) noise level, stored with float16 weights, and shipped inside the package."""

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import denoising.bundled as bundled
from denoising.bundled.store import half_weights
from denoising.cards import read_card
from denoising.command.denoise_images import main
from denoising.errors import UserError
from tests.helpers import save_with_card

REPO = Path(__file__).resolve().parent.parent


def echo(folder: Path, channels: int, scale: float) -> Path:
    """A blind model that outputs ``scale`` times the level it is told, on every channel, so a
    result shows which model ran (its scale) and what level it was told."""
    inputs = keras.Input(shape=(None, None, channels + 1))
    level = keras.layers.Rescaling(scale)(inputs[..., channels:])
    output = level if channels == 1 else keras.layers.Concatenate()([level] * channels)
    save_with_card(keras.Model(inputs, output, name=f"echo{channels}"), folder, "any", 1)
    card = json.loads((folder / "card.json").read_text())
    card.update(level_input=True, noise={"type": "gaussian", "clip": True, "range": [0, 0.2]})
    card.update({"channels": 3} if channels == 3 else {})
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A package whose bundled grey model outputs the level and whose colour model outputs half
    of it."""
    monkeypatch.setattr(bundled, "HERE", tmp_path / "bundled")
    echo(tmp_path / "bundled/gray", 1, 1.0)
    echo(tmp_path / "bundled/color", 3, 0.5)
    return tmp_path / "bundled"


def noisy(path: Path, channels: int, sigma: float = 0.1) -> Path:
    rng = np.random.default_rng(0)
    pixels = np.clip(0.5 + sigma * rng.standard_normal((64, 64, channels)), 0, 1)
    pixels = np.round(pixels * 255).astype(np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(path)
    return path


def test_with_no_model_each_image_gets_the_bundled_model_for_its_channels(
    tmp_path, shipped, capsys
):
    noisy(tmp_path / "grey.png", 1)
    noisy(tmp_path / "colour.png", 3)
    main([str(tmp_path / "grey.png"), str(tmp_path / "colour.png"), "-o", str(tmp_path / "out")])
    said = capsys.readouterr().err
    assert "bundled model 'gray'" in said and "bundled model 'color'" in said
    grey = np.asarray(Image.open(tmp_path / "out/grey.png")) / 255
    colour = np.asarray(Image.open(tmp_path / "out/colour.png")) / 255
    assert grey.ndim == 2 and colour.shape == (64, 64, 3)
    # Each was told its estimated level (printed); the colour model gives half of it.
    estimates = [
        float(line.split("level ")[1].split()[0])
        for line in said.splitlines()
        if "estimated noise level" in line
    ]
    assert len(estimates) == 2 and all(0.08 < e < 0.12 for e in estimates)
    assert abs(grey.mean() - estimates[0]) < 0.01
    assert abs(colour.mean() - estimates[1] / 2) < 0.01


def test_sigma_overrides_the_estimate_and_a_name_picks_one_model(tmp_path, shipped, capsys):
    (tmp_path / "in").mkdir()
    image = noisy(tmp_path / "in/colour.png", 3)
    main([str(image), "--sigma", "0.4", "-o", str(tmp_path / "told")])
    assert (np.asarray(Image.open(tmp_path / "told/colour.png")) == round(0.2 * 255)).all()
    assert "estimated" not in capsys.readouterr().err
    for given in (["gray", str(image)], ["--model", "gray", str(tmp_path / "in")]):
        out = tmp_path / f"named{len(given)}"
        main([*given, "--sigma", "0.4", "-o", str(out)])
        assert (np.asarray(Image.open(out / "colour.png")) == round(0.4 * 255)).all()


def test_without_a_grey_model_grey_images_go_to_the_colour_one(tmp_path, shipped, capsys):
    (shipped / "gray/model.keras").unlink()
    noisy(tmp_path / "grey.png", 1)
    main([str(tmp_path / "grey.png"), "--sigma", "0.4", "-o", str(tmp_path / "out")])
    said = capsys.readouterr().err
    assert "its channel is repeated into R, G and B" in said
    assert "warning: no bundled grey model in this install" in said
    assert (np.asarray(Image.open(tmp_path / "out/grey.png")) == round(0.2 * 255)).all()
    with pytest.raises(UserError, match="bundled model 'gray' is not in this install"):
        main(["--model", "gray", str(tmp_path / "grey.png"), "-o", str(tmp_path / "named")])


def test_float16_storage_round_trips_to_the_nearest_half_and_the_same_bytes(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None, None, 3))
    features = keras.layers.Conv2D(64, 3, padding="same")(inputs)
    features = keras.layers.Conv2D(64, 3, padding="same")(features)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(features))
    model.compile(optimizer="adam", loss="mae")  # Adam's moments: left out of the stored file.
    model.fit(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)), verbose=0)
    model.save(tmp_path / "full.keras")
    half_weights(tmp_path / "full.keras", tmp_path / "half.keras")
    time.sleep(1.1)  # HDF5 records times to the second: the copy must not depend on them.
    half_weights(tmp_path / "full.keras", tmp_path / "again.keras")
    assert (tmp_path / "half.keras").read_bytes() == (tmp_path / "again.keras").read_bytes()
    loaded = keras.saving.load_model(tmp_path / "half.keras", compile=False)
    for before, after in zip(model.weights, loaded.weights, strict=True):
        assert after.dtype == "float32"
        nearest = np.asarray(before).astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(after), nearest)
    with zipfile.ZipFile(tmp_path / "half.keras") as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    full, half = (zipfile.ZipFile(tmp_path / f"{n}.keras") for n in ("full", "half"))
    sizes = [archive.getinfo("model.weights.h5").file_size for archive in (full, half)]
    assert sizes[1] < sizes[0] / 4  # Half the bytes a weight, and no optimizer moments.
    image = np.random.default_rng(0).uniform(size=(1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(
        loaded.predict_on_batch(image), model.predict_on_batch(image), atol=1e-2
    )


@pytest.mark.parametrize("name", bundled.shipped())
def test_every_shipped_card_loads_validates_and_says_how_it_was_made(name):
    path, card = read_card(bundled.bundled_folder(name))
    assert path.stat().st_size <= 10_000_000 and card["input_shape"] == "any"
    assert card.get("channels", 1) == (1 if name == "gray" else 3)
    made = card["bundled"]
    assert made["command"].startswith(f"python scripts/train_bundled.py {name}")
    assert made["fit_minutes"] > 0 and made["epochs_run"] >= 1 and "cores" in made["machine"]
    if name == "real":  # Real camera noise: no level to be told; scored on PolyU.
        assert not card["level_input"] and card["noise"]["type"] == "real"
        assert card["train"]["init"] == "denoising/bundled/camera"
        assert made["scores"]["polyu"]["psnr"] > made["scores"]["polyu"]["noisy"]
    elif name == "camera":  # Synthetic camera noise, blind with no level input, from color.
        assert not card["level_input"] and card["noise"]["type"] == "camera"
        assert card["train"]["init"] == "denoising/bundled/color"
        assert made["scores"]["polyu"]["psnr"] > made["scores"]["polyu"]["noisy"]
    else:  # Blind over sigma 0 to 50, told the level; scored at 15, 25 and 50.
        assert card["level_input"] and card["noise"]["range"] == [0.0, 0.196]
        assert set(made["scores"]) >= {"15", "25", "50"}


def test_an_installed_package_denoises_a_photo_with_no_model_and_no_repository(tmp_path):
    """pip install . (with no DVC and no network) gives the bundled models: the command runs
    from another folder with the installed package alone, on a tiny JPEG."""
    if not bundled.shipped():
        pytest.fail("no bundled model in denoising/bundled/: run scripts/train_bundled.py")
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    install += ["--no-build-isolation", "--target", str(tmp_path / "site"), str(REPO)]
    subprocess.run(install, check=True, capture_output=True, cwd=tmp_path)
    (tmp_path / "photos").mkdir()
    noisy(tmp_path / "photos/photo.jpg", 3, sigma=0.08)
    noisy(tmp_path / "photos/grey.jpg", 1, sigma=0.08)
    code = "from denoising.command.denoise_images import entry_point; entry_point()"
    result = subprocess.run(
        [sys.executable, "-c", code, "photos", "-o", "out"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        f"{tmp_path / 'site'}"
        in subprocess.run(
            [sys.executable, "-c", "import denoising; print(denoising.__file__)"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path / "site")},
            capture_output=True,
            text=True,
        ).stdout
    )
    assert "bundled model 'color'" in result.stderr and "estimated noise level" in result.stderr
    grey_said = "bundled model 'gray'" if "gray" in bundled.shipped() else "no bundled grey model"
    assert grey_said in result.stderr
    for name, shape in (("photo", (64, 64, 3)), ("grey", (64, 64))):
        denoised = np.asarray(Image.open(tmp_path / f"out/{name}.png"), dtype=float) / 255
        before = np.asarray(Image.open(tmp_path / f"photos/{name}.jpg"), dtype=float) / 255
        assert denoised.shape == shape and denoised.std() < 0.85 * before.std()


def test_the_polyu_split_has_no_scene_on_both_sides():
    sys.path.insert(0, str(REPO))
    from bench.bundled import SHARED, scene, shared_scenes

    assert scene("Canon80D_8_8_3200_ball_16.JPG") == "Canon80D_8_8_3200_ball"
    train = ["Canon5D2_5_160_3200_plug_11.JPG", "Canon600D_4-5_125_1600_toy_2.JPG"]
    assert shared_scenes(train, ["Canon80D_8_8_800_GO_11.JPG"]) == set()
    # The same scene's other crop, or the same scene's name shot on another camera.
    assert shared_scenes(train, ["Canon5D2_5_160_3200_plug_4.JPG"]) == {"Canon5D2_5_160_3200_plug"}
    assert shared_scenes(train, ["Canon5D2_5_200_3200_toy_1.JPG"]) == {
        "Canon600D_4-5_125_1600_toy",
        "Canon5D2_5_200_3200_toy",
    }
    polyu = SHARED / "real/polyu"
    if polyu.is_dir():  # The shared benchmark, where this machine has it.
        names = {side: [p.name for p in (polyu / side).iterdir()] for side in ("train", "test")}
        assert len(names["train"]) == 39 and len(names["test"]) == 16
        assert shared_scenes(names["train"], names["test"]) == set()


def test_recording_one_benchmark_keeps_the_cards_other_scores(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO))
    import bench.bundled

    (tmp_path / "color").mkdir()
    card = {"bundled": {"scores": {"15": {"psnr": 34.3}, "polyu": {"psnr": 36.0}}}}
    (tmp_path / "color" / "card.json").write_text(json.dumps(card))
    monkeypatch.setattr(bench.bundled, "HERE", tmp_path)
    bench.bundled.record({"color": {"polyu": {"psnr": 36.1}}})
    scores = json.loads((tmp_path / "color" / "card.json").read_text())["bundled"]["scores"]
    assert scores == {"15": {"psnr": 34.3}, "polyu": {"psnr": 36.1}}
