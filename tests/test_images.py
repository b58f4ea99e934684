import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from denoising.errors import UserError
from denoising.files import load_array
from denoising.folders import Reader, count_files, mapper, write_split
from denoising.images import load_grayscale
from denoising.listing import LINK_LOOP, find_files, list_files, skip_reason


def read_split(folder, reader, out, on_error="skip", workers=1):
    """Stream ``folder`` into ``out`` as preprocess does; the report, with the list of files
    read (checked against its hash) as ``names``."""
    listing = out.with_suffix(".jsonl")
    with mapper(workers) as imap:
        report = write_split(folder, count_files(folder), reader, out, listing, on_error, imap)
    assert report.files_sha256 == hashlib.sha256(listing.read_bytes()).hexdigest()
    report.names = [json.loads(line) for line in listing.read_text().splitlines()]
    assert len(report.names) == report.files
    return report


def load_folder(folder, shape, on_error, max_pixels, workers=1):
    """Stream ``folder`` into a .npy beside it; the report, with the images."""
    out = folder.parent / f"{folder.name}-out.npy"
    report = read_split(folder, Reader("resize", shape, max_pixels), out, on_error, workers)
    report.images = load_array(out)
    return report


FORMATS = ["png", "jpg", "bmp", "gif", "tiff", "webp"]


def gradient_rgb(width: int = 40, height: int = 30) -> Image.Image:
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1))


@pytest.mark.parametrize("extension", FORMATS)
def test_every_format_loads_as_float_grayscale(tmp_path, extension):
    path = tmp_path / f"image.{extension}"
    gradient_rgb().save(path)
    image = load_grayscale(path, (28, 28), 10**6)
    assert image.shape == (28, 28)
    assert image.dtype == np.float32
    assert 0.0 <= image.min() < 0.1 and 0.9 < image.max() <= 1.0


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA", "1", "CMYK", "I", "F"])
def test_every_mode_loads(tmp_path, mode):
    path = tmp_path / ("image.tiff" if mode in ("CMYK", "I", "F") else "image.png")
    source = gradient_rgb()
    if mode == "F":
        source = Image.fromarray(np.asarray(source.convert("L"), dtype=np.float32) / 255.0)
    elif mode == "I":
        source = Image.fromarray(np.asarray(source.convert("L"), dtype=np.int32) * 257)
    else:
        source = source.convert(mode)
    source.save(path)
    image = load_grayscale(path, (28, 28), 10**6)
    assert image.shape == (28, 28)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert image.max() > 0.5, "a bright gradient must not come out dark"


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.full((20, 20), 32768, dtype=np.uint16)).save(path)
    image = load_grayscale(path, (10, 10), 10**6)
    np.testing.assert_allclose(image, 32768 / 65535, atol=1e-4)


def test_resize_to_non_square_shape(tmp_path):
    path = tmp_path / "image.png"
    gradient_rgb().save(path)
    assert load_grayscale(path, (16, 24), 10**6).shape == (16, 24)


def test_nested_folders_load_in_sorted_order(image_folder):
    loaded = load_folder(image_folder / "train", (28, 28), "skip", 10**6)
    assert loaded.images.shape == (24, 28, 28, 1)
    assert loaded.names == sorted(loaded.names) == list_files(image_folder / "train")
    assert loaded.names[0] == "class0/000.png"
    assert [p.name for p in find_files(image_folder / "train")][:2] == ["000.png", "002.png"]


def test_walk_gives_sorted_paths_one_folder_at_a_time(tmp_path):
    # Names around "/" in sort order: "-" and "." sort before it, "0" after.
    names = ["a.png", "a-b.png", "a/x.png", "a/b/c.png", "a b/c.png", "a.b/e.png", "a0.png"]
    names += ["a/b-c.png", "a/b.png", "Z/q.png", "\u00e9/\u00fc.png"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "a")  # a link to a folder is followed
    linked = [f"link/{name[2:]}" for name in names if name.startswith("a/")]
    assert list_files(tmp_path) == sorted(names + linked)


def test_a_link_back_up_the_tree_is_listed_once_not_followed(tmp_path):
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/x.png").write_bytes(b"")
    (tmp_path / "a/b/up").symlink_to(tmp_path / "a")
    assert list_files(tmp_path) == ["a/b/up/", "a/b/x.png"]
    assert skip_reason("a/b/up/") == LINK_LOOP


def test_bad_files_are_skipped_with_a_reason(image_folder):
    train = image_folder / "train"
    (train / "notes.txt").write_text("not an image")
    (train / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (train / "empty.jpg").write_bytes(b"")
    loaded = load_folder(train, (28, 28), "skip", 10**6)
    assert loaded.files == 24
    reasons = {entry["file"]: entry["reason"] for entry in loaded.skipped}
    assert set(reasons) == {"notes.txt", "broken.png", "empty.jpg"}
    assert reasons["notes.txt"] == "not an image file extension"
    assert "Truncated" in reasons["broken.png"]
    assert "cannot identify image file" in reasons["empty.jpg"]


def test_folder_without_images_is_a_user_error(tmp_path):
    (tmp_path / "only.txt").write_text("x")
    with pytest.raises(UserError, match="no readable image"):
        load_folder(tmp_path, (28, 28), "skip", 10**6)
    with pytest.raises(UserError, match="folder not found"):
        load_folder(tmp_path / "missing", (28, 28), "skip", 10**6)


def test_fail_policy_names_the_first_bad_file(image_folder):
    train = image_folder / "train"
    (train / ".DS_Store").write_bytes(b"\x00")  # System files never count as bad.
    (train / "class0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(UserError, match=r"class0/broken.png: .*data.on_error is 'fail'"):
        load_folder(train, (28, 28), "fail", 10**6)


def test_images_over_the_pixel_limit_are_skipped_before_decoding(tmp_path):
    Image.new("L", (200, 100)).save(tmp_path / "big.png")
    Image.new("L", (10, 10)).save(tmp_path / "small.png")
    loaded = load_folder(tmp_path, (8, 8), "skip", 5_000)
    assert loaded.names == ["small.png"]
    assert "200x100 is 20000 pixels, over data.max_pixels (5000)" in loaded.skipped[0]["reason"]


def test_worker_count_does_not_change_a_byte(image_folder):
    (image_folder / "train" / "broken.png").write_bytes(b"not a png")
    one = load_folder(image_folder / "train", (28, 28), "skip", 10**6, workers=1)
    two = load_folder(image_folder / "train", (28, 28), "skip", 10**6, workers=2)
    assert one.images.tobytes() == two.images.tobytes()
    assert one.names == two.names and one.skipped == two.skipped
    assert one.rows == 24 and one.images.shape == (24, 28, 28, 1)


def test_patches_are_seeded_native_resolution_crops(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(50, 70), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels).save(tmp_path / "in" / "a.png")
    Image.fromarray(pixels[:10, :10]).save(tmp_path / "in" / "small.png")
    reader = Reader("patches", (16, 16), 10**6, per_image=5, seed=3)
    report = read_split(tmp_path / "in", reader, tmp_path / "p.npy", workers=2)
    patches = load_array(tmp_path / "p.npy")[..., 0]
    assert patches.shape == (5, 16, 16) and report.names == ["a.png"]
    assert "10x10 is smaller than data.patch_size (16)" in report.skipped[0]["reason"]
    full = pixels.astype(np.float32) / 255
    for patch in patches:  # each patch is a piece of the image, not a resized copy
        hits = [
            (t, s)
            for t in range(50 - 15)
            for s in range(70 - 15)
            if np.array_equal(full[t : t + 16, s : s + 16], patch)
        ]
        assert hits
    read_split(tmp_path / "in", reader, tmp_path / "q.npy", workers=1)
    assert (tmp_path / "p.npy").read_bytes() == (tmp_path / "q.npy").read_bytes()
    # A file's patches depend on its name, not on the files beside it.
    (tmp_path / "in" / "0.png").write_bytes((tmp_path / "in" / "a.png").read_bytes())
    read_split(tmp_path / "in", reader, tmp_path / "r.npy", workers=1)
    before, after = load_array(tmp_path / "p.npy"), load_array(tmp_path / "r.npy")
    np.testing.assert_array_equal(after[5:], before)
    assert not np.array_equal(after[:5], before)
    crop, notes = Reader("crop", (20, 20), 10**6).read(str(tmp_path / "in" / "a.png"), "a.png")
    np.testing.assert_array_equal(crop[0, ..., 0], full[15:35, 25:45])
    assert notes == []
