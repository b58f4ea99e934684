"""denoise-images: formats and modes, 16-bit, nested folders, bad files, cards, tiling."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from denoising.command.denoise_images import main
from denoising.command.tiles import (
    Tiling,
    pad_to_multiple,
    predict_bands,
    predict_tiled,
    receptive_radius,
)
from denoising.errors import UserError
from tests.helpers import gradient, pipeline_env


def errors(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("extension", ["png", "jpg", "bmp", "gif", "tiff", "webp"])
def test_every_format_gives_a_png_of_the_same_size(tmp_path, models, extension):
    Image.fromarray(gradient()).save(tmp_path / f"in.{extension}")
    main([str(models["conv"]), str(tmp_path / f"in.{extension}"), "-o", str(tmp_path / "out")])
    # TIFF stays TIFF (it may hold frames and depths a PNG cannot); the rest become PNG.
    name, kind = ("in.tif", "TIFF") if extension == "tiff" else ("in.png", "PNG")
    with Image.open(tmp_path / "out" / name) as result:
        assert result.format == kind and result.size == (40, 30)


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("L", "per-channel", "L"),
        ("RGB", "per-channel", "RGB"),
        ("RGB", "gray", "L"),
        ("RGBA", "per-channel", "RGBA"),
        ("LA", "per-channel", "LA"),
        ("P", "per-channel", "RGB"),
        ("1", "per-channel", "L"),
        ("CMYK", "per-channel", "RGB"),
    ],
)
def test_every_mode_round_trips_through_an_identity_model(tmp_path, models, mode, color, expected):
    source = Image.fromarray(gradient()).convert(mode)
    suffix = "tiff" if mode == "CMYK" else "png"
    source.save(tmp_path / f"in.{suffix}")
    model, image = str(models["identity"]), str(tmp_path / f"in.{suffix}")
    main([model, image, "-o", str(tmp_path / "o"), "--color", color, "--format", "png"])
    with Image.open(tmp_path / "o/in.png") as result:
        assert result.mode == expected
        want = source.convert(expected) if mode != "P" else source.convert("RGB")
        np.testing.assert_array_equal(np.asarray(result), np.asarray(want))


def test_16_bit_input_gives_16_bit_output_exactly(tmp_path, models):
    pixels = np.random.default_rng(0).integers(0, 65536, size=(37, 53), dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    main([str(models["identity"]), str(tmp_path / "wide.png"), "-o", str(tmp_path / "out")])
    with Image.open(tmp_path / "out/wide.png") as result:
        assert result.mode.startswith("I")
        np.testing.assert_array_equal(np.asarray(result), pixels)


def test_nested_folders_keep_their_relative_paths(tmp_path, models, capsys):
    for relative in ["a/one.png", "a/b/two.jpg", "three.bmp"]:
        (tmp_path / "in" / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient()).save(tmp_path / "in" / relative)
    main([str(models["conv"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert written == ["a", "a/b", "a/b/two.png", "a/one.png", "three.png"]
    assert "denoised 3 images, 0.00 megapixels" in errors(capsys)


def test_unreadable_files_are_skipped_and_named(tmp_path, models, capsys):
    (tmp_path / "in").mkdir()
    Image.fromarray(gradient()).save(tmp_path / "in/good.png")
    (tmp_path / "in/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "in/notes.txt").write_text("not an image")
    main([str(models["conv"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]
    err = errors(capsys)
    assert "skipped 2 files" in err
    assert "broken.png" in err and "notes.txt: not an image file extension" in err


def test_a_model_without_a_card_is_refused_in_one_line(tmp_path, models, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.keras").write_bytes((models["conv"] / "model.keras").read_bytes())
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    with pytest.raises(SystemExit) as stopped:
        from denoising.command.denoise_images import entry_point

        sys.argv = [
            "denoise-images",
            str(bare),
            str(tmp_path / "in.png"),
            "-o",
            str(tmp_path / "o"),
        ]
        entry_point()
    assert stopped.value.code == 2
    err = errors(capsys).strip().splitlines()
    assert err == [
        f"error: {bare / 'model.keras'}: no card.json beside it; denoise-images only "
        "runs models trained by this pipeline, whose card says what input they take"
    ]
    assert not (tmp_path / "o").exists()


def test_an_image_smaller_than_one_tile_keeps_its_size(tmp_path, models):
    Image.fromarray(gradient(13, 7)).convert("L").save(tmp_path / "tiny.png")
    main(
        [
            str(models["conv"]),
            str(tmp_path / "tiny.png"),
            "-o",
            str(tmp_path / "o"),
            "--tile",
            "64",
        ]
    )
    with Image.open(tmp_path / "o/tiny.png") as result:
        assert result.size == (13, 7)


def test_dense_model_says_it_needs_its_size_unless_resize(tmp_path, models, capsys):
    Image.fromarray(gradient()).convert("L").save(tmp_path / "in.png")
    args = [str(models["dense"]), str(tmp_path / "in.png"), "-o", str(tmp_path / "o")]
    with pytest.raises(Exception, match="only takes 28x28 images .* pass --resize"):
        main(args)
    main([*args, "--resize"])
    with Image.open(tmp_path / "o/in.png") as result:
        assert result.size == (40, 30)


def test_output_inside_an_input_folder_is_refused(tmp_path, models):
    (tmp_path / "in").mkdir()
    Image.fromarray(gradient()).save(tmp_path / "in/a.png")
    with pytest.raises(Exception, match="inside input folder"):
        main([str(models["conv"]), str(tmp_path / "in"), "-o", str(tmp_path / "in/out")])
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]


def test_tiled_output_matches_untiled_with_no_seam(models):
    model = keras.saving.load_model(models["conv"] / "model.keras")
    # Fresh weights give outputs close to 0.5 everywhere; larger ones make errors show.
    for layer in model.layers:
        layer.set_weights([3 * weight for weight in layer.get_weights()])

    def predict(batch):
        return np.asarray(model.predict_on_batch(batch))

    radius = receptive_radius(predict)
    assert 4 <= radius < 20, "two 3x3 convolutions and poolings reach some pixels, not all"
    image = np.random.default_rng(1).random((203, 341, 1)).astype(np.float32)
    whole = predict(pad_to_multiple(image, 4)[None])[0, :203, :341]
    overlap = 2 * radius + 8
    tiled = predict_tiled(predict, image, Tiling(64, overlap, radius, 4, 5))
    error = np.abs(tiled - whole)[..., 0]
    assert error.max() < 1e-3
    # Tiles start every (64 - overlap) pixels, rounded down to 4: check their borders by
    # themselves, where a seam would be.
    step = (64 - overlap) // 4 * 4
    borders = [start + d for start in range(step, 341, step) for d in (-1, 0, 1, 63, 64)]
    assert error[[b for b in borders if b < 203], :].max() < 1e-3
    assert error[:, [b for b in borders if b < 341]].max() < 1e-3
    # Without the ignored margin there are seams, so the checks above can fail.
    naive = predict_tiled(predict, image, Tiling(64, overlap, 0, 4, 5))
    assert np.abs(naive - whole).max() > 1e-2


def test_console_script_runs(tmp_path, models):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    script = Path(sys.executable).parent / "denoise-images"
    result = subprocess.run(
        [script, models["conv"], tmp_path / "in.png", "-o", tmp_path / "out"],
        capture_output=True,
        text=True,
        env=pipeline_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/in.png").is_file()
    assert "denoised 1 images" in result.stderr


def test_bands_read_and_hold_one_row_of_tiles_at_a_time():
    def predict(batch):  # a 3x3 mean: it reaches one pixel around, like a small model
        padded = np.pad(batch, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="constant")
        return sum(
            padded[:, 1 + dy : padded.shape[1] - 1 + dy, 1 + dx : padded.shape[2] - 1 + dx]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ) / np.float32(9)

    image = np.random.default_rng(2).random((301, 157, 2)).astype(np.float32)
    asked = []

    def rows(top, bottom):
        asked.append(bottom - top)
        return image[top:bottom]

    tiling = Tiling(64, 16, 1, 4, 3)
    bands = list(predict_bands(predict, rows, 301, 157, tiling))
    assert max(asked) <= 64 and max(len(band) for band in bands) <= 64
    assert sum(len(band) for band in bands) == 301
    whole = predict(pad_to_multiple(image, 4).transpose(2, 0, 1)[..., None])[..., 0]
    expected = whole.transpose(1, 2, 0)[:301, :157]
    np.testing.assert_allclose(np.concatenate(bands), expected, atol=1e-6)


def test_an_image_far_from_the_training_size_gets_one_warning(tmp_path, models, capsys):
    folder = tmp_path / "model"
    shutil.copytree(models["conv"], folder)
    card = json.loads((folder / "card.json").read_text())
    card["data"] = {"dir": "data/sample", "mode": "resize", "image_shape": [28, 28], "images": 9}
    (folder / "card.json").write_text(json.dumps(card))
    Image.fromarray(gradient()).save(tmp_path / "near.png")  # 40x30: near 28x28
    Image.fromarray(gradient(200, 150)).save(tmp_path / "far.png")
    main(
        [
            str(folder),
            str(tmp_path / "near.png"),
            str(tmp_path / "far.png"),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    warnings = [line for line in errors(capsys).splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {tmp_path / 'far.png'}: model 'conv' was trained on images resized to 28x28 "
        "(data/sample); this image is 200x150: expect poor results; train on images like it, "
        "with data.mode: patches"
    ]


def level_echo(tmp_path, noise_type="gaussian"):
    """A model that takes a level channel and outputs it: its results show what it was told."""
    inputs = keras.Input(shape=(None, None, 2))
    model = keras.Model(inputs, keras.layers.Identity()(inputs[..., 1:]), name="echo")
    from tests.helpers import save_with_card

    folder = save_with_card(model, tmp_path / "echo", "any", 1)
    card = json.loads((folder / "card.json").read_text())
    card.update(level_input=True, noise={"type": noise_type, "clip": True, "range": [0, 0.5]})
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def test_a_model_with_a_level_input_is_told_sigma(tmp_path):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    echo, image = str(level_echo(tmp_path)), str(tmp_path / "in.png")
    main([echo, image, "--sigma", "0.2", "--tta", "-o", str(tmp_path / "told")])
    told = np.asarray(Image.open(tmp_path / "told/in.png"))
    assert (told == round(0.2 * 255)).all()


def test_a_model_with_a_level_input_is_told_each_images_estimated_level(tmp_path, capsys):
    rng = np.random.default_rng(0)
    flat = np.full((64, 64), 0.5) + 0.1 * rng.standard_normal((64, 64))
    Image.fromarray(np.round(np.clip(flat, 0, 1) * 255).astype(np.uint8)).save(tmp_path / "n.png")
    main([str(level_echo(tmp_path)), str(tmp_path / "n.png"), "-o", str(tmp_path / "out")])
    assert "n.png: estimated noise level 0.09" in errors(capsys)
    told = np.asarray(Image.open(tmp_path / "out/n.png")) / 255
    assert abs(told.mean() - 0.1) < 0.01 and len(np.unique(told)) == 1


def test_sigma_goes_with_models_that_take_a_level_only(tmp_path, models):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    image, out = str(tmp_path / "in.png"), str(tmp_path / "out")
    with pytest.raises(UserError, match="--sigma: model 'conv' takes no noise level"):
        main([str(models["conv"]), image, "--sigma", "0.1", "-o", out])
    echo = level_echo(tmp_path, noise_type="salt_and_pepper")
    with pytest.raises(UserError) as error:
        main([str(echo), image, "-o", out])
    assert "trained on salt_and_pepper noise, whose level cannot be estimated" in str(error.value)
    assert "\n" not in str(error.value)


def test_the_level_is_estimated_on_the_middle_of_a_large_image(tmp_path, monkeypatch, capsys):
    """Only the middle (ESTIMATE_SIDE rows and columns) is read for the estimate: here the noise
    is there alone, so the estimate is its sigma, not a mean diluted by the flat border."""
    import denoising.command.denoise_images as command

    monkeypatch.setattr(command, "ESTIMATE_SIDE", 32)
    pixels = np.full((96, 96), 0.5)
    pixels[32:64, 32:64] += 0.1 * np.random.default_rng(1).standard_normal((32, 32))
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(
        tmp_path / "m.png"
    )
    main([str(level_echo(tmp_path)), str(tmp_path / "m.png"), "-o", str(tmp_path / "out")])
    level = float(errors(capsys).split("estimated noise level ")[1].split()[0])
    assert 0.08 < level < 0.12
