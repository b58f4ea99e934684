"""TIFF stacks and 16-bit colour through denoise-images: every frame, the input's bit depth."""

import numpy as np
import pytest
import tifffile
from PIL import Image

from denoising.command.denoise_images import main
from denoising.command.full_images import load_full
from tests.helpers import gradient

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("name", "pixels", "extra"),
    [
        (
            "stack16",
            RNG.integers(0, 65536, (3, 21, 34), dtype=np.uint16),
            {"photometric": "minisblack"},
        ),
        ("rgb16", RNG.integers(0, 65536, (21, 34, 3), dtype=np.uint16), {"photometric": "rgb"}),
        (
            "rgba16",
            RNG.integers(0, 65536, (21, 34, 4), dtype=np.uint16),
            {"photometric": "rgb", "extrasamples": ["unassalpha"]},
        ),
        (
            "rgbstack8",
            RNG.integers(0, 256, (2, 21, 34, 3), dtype=np.uint8),
            {"photometric": "rgb"},
        ),
        ("float", RNG.random((21, 34), dtype=np.float32), {"photometric": "minisblack"}),
    ],
)
def test_tiffs_round_trip_exactly_through_an_identity_model(tmp_path, models, name, pixels, extra):
    tifffile.imwrite(tmp_path / f"{name}.tif", pixels, **extra)
    main([str(models["identity"]), str(tmp_path / f"{name}.tif"), "-o", str(tmp_path / "out")])
    result = tifffile.imread(tmp_path / f"out/{name}.tif")
    assert result.dtype == pixels.dtype
    np.testing.assert_array_equal(result, pixels)


def test_each_frame_is_denoised_as_if_it_were_alone(tmp_path, models):
    frames = RNG.integers(0, 65536, (3, 24, 32), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    (tmp_path / "single").mkdir()
    tifffile.imwrite(tmp_path / "in/stack.tif", frames, photometric="minisblack")
    for index, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / f"single/{index}.tif", frame, photometric="minisblack")
    main([str(models["conv"]), str(tmp_path / "in"), "-o", str(tmp_path / "a")])
    main([str(models["conv"]), str(tmp_path / "single"), "-o", str(tmp_path / "b")])
    stack = tifffile.imread(tmp_path / "a/stack.tif")
    assert stack.shape == frames.shape and stack.dtype == np.uint16
    for index in range(3):
        np.testing.assert_array_equal(stack[index], tifffile.imread(tmp_path / f"b/{index}.tif"))


def test_a_stack_is_skipped_not_cut_when_png_is_asked_for(tmp_path, models, capsys):
    stack = RNG.integers(0, 256, (4, 20, 20), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    Image.fromarray(gradient()).save(tmp_path / "flat.tif")
    with pytest.raises(Exception, match="no image could be read"):
        main(
            [str(models["identity"]), str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out")]
            + ["--format", "png"]
        )
    assert "4 frames, which a PNG cannot hold; use --format tiff" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*"))
    main([str(models["identity"]), str(tmp_path / "flat.tif"), "-o", str(tmp_path / "out")])
    main(
        [str(models["identity"]), str(tmp_path / "flat.tif"), "-o", str(tmp_path / "out")]
        + ["--format", "png"]
    )
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["flat.png", "flat.tif"]


def test_png_inputs_can_be_written_as_tiff(tmp_path, models):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    main(
        [str(models["identity"]), str(tmp_path / "in.png"), "-o", str(tmp_path / "out")]
        + ["--format", "tiff"]
    )
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out/in.tif"), gradient())


def test_float_pixels_reach_the_model_unclipped_and_results_are_clipped(tmp_path, models):
    # Unclipped Gaussian noise (bench/photos.py --no-clip) puts float pixels outside [0, 1].
    pixels = np.linspace(-0.4, 1.4, 21 * 34, dtype=np.float32).reshape(21, 34)
    tifffile.imwrite(tmp_path / "wide.tif", pixels, photometric="minisblack")
    image = load_full(tmp_path / "wide.tif", "per-channel", 10**6)
    np.testing.assert_array_equal(image.rows(0, 0, 21)[..., 0], pixels)
    main([str(models["identity"]), str(tmp_path / "wide.tif"), "-o", str(tmp_path / "out")])
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out/wide.tif"), pixels.clip(0, 1))
