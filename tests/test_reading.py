"""Reading hostile files: mutated bytes in every format, corrupt metadata, FIFOs, huge headers.
Each bad file is that file's problem: skipped and named, never a traceback or a hang."""

import io
import json
import os
import struct
import warnings

import numpy as np
import pytest
import yaml
from PIL import Image

from denoising.command.denoise_images import main
from denoising.command.full_images import load_full
from denoising.folders import Reader, count_files, mapper, write_split
from denoising.images import ImageTooLarge, open_image
from denoising.listing import NOT_REGULAR
from tests.helpers import REPO, stage_process, write_digit_like_images

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "tif": "TIFF", "gif": "GIF"}
MUTANTS_PER_FORMAT = 50


def valid_bytes(format_name: str) -> bytes:
    """A small colour image with an EXIF orientation tag (where the format carries EXIF)."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    extra = {} if format_name == "GIF" else {"exif": exif}
    Image.fromarray(pixels).save(buffer, format=format_name, **extra)
    return buffer.getvalue()


def write_mutants(folder) -> list[str]:
    """Files of every format with 1 to 8 random bytes changed, from a seeded generator."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    names = []
    for extension, format_name in FORMATS.items():
        original = valid_bytes(format_name)
        for index in range(MUTANTS_PER_FORMAT):
            data = bytearray(original)
            for _ in range(rng.integers(1, 9)):
                data[rng.integers(0, len(data))] = rng.integers(0, 256)
            name = f"{extension}{index:02d}.{extension}"
            (folder / name).write_bytes(bytes(data))
            names.append(name)
    return names


def corrupt_exif_webp(path) -> None:
    """A WebP whose EXIF block has a broken TIFF header: Pillow raises SyntaxError on it."""
    data = bytearray(valid_bytes("WEBP"))
    start = data.find(b"MM\x00*")
    data[start : start + 4] = b"XXXX"
    path.write_bytes(bytes(data))


def test_corrupt_exif_is_that_files_problem(tmp_path):
    corrupt_exif_webp(tmp_path / "bad.webp")
    result = Reader("resize", (28, 28), 10**6).read(str(tmp_path / "bad.webp"), "bad.webp")
    assert isinstance(result, str) and result.startswith("SyntaxError: not a TIFF file")


def test_corrupt_exif_under_fail_is_one_line(tmp_path):
    write_digit_like_images(tmp_path / "data/train", 4, seed=1)
    write_digit_like_images(tmp_path / "data/test", 2, seed=2)
    corrupt_exif_webp(tmp_path / "data/train/bad.webp")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(dir=str(tmp_path / "data"), on_error="fail")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = stage_process("preprocess", tmp_path / "params.yaml", "--out-dir", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "bad.webp: SyntaxError" in errors[0]
    assert not (tmp_path / "out").exists()


def test_fuzzed_files_are_read_or_skipped_never_a_crash(tmp_path):
    names = write_mutants(tmp_path / "train")
    assert len(names) >= 200
    reader = Reader("resize", (28, 28), 10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the damage it recovers from
        with mapper(1) as imap:
            report = write_split(
                tmp_path / "train",
                count_files(tmp_path / "train"),
                reader,
                tmp_path / "train.npy",
                tmp_path / "train_files.jsonl",
                "skip",
                imap,
            )
    read = [json.loads(line) for line in (tmp_path / "train_files.jsonl").read_text().split()]
    skipped = [entry["file"] for entry in report.skipped]
    assert sorted(read + skipped) == sorted(names)
    # Both outcomes happen: the mutations hit pixel data (still readable) and headers.
    assert len(read) > 20 and len(skipped) > 20
    assert np.load(tmp_path / "train.npy").shape == (len(read), 28, 28, 1)


def test_fuzzed_files_through_denoise_images_are_skipped_and_named(tmp_path, models, capsys):
    names = write_mutants(tmp_path / "in")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main([str(models["identity"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(written) + len(skipped) == len(names)
    assert f"denoised {len(written)} images" in err and f"skipped {len(skipped)} files" in err


def test_a_fifo_in_a_split_is_skipped_not_waited_on(tmp_path):
    write_digit_like_images(tmp_path / "train", 3, seed=1)
    os.mkfifo(tmp_path / "train/pipe.png")
    with mapper(1) as imap:
        report = write_split(
            tmp_path / "train",
            count_files(tmp_path / "train"),
            Reader("resize", (28, 28), 10**6),
            tmp_path / "train.npy",
            tmp_path / "files.jsonl",
            "skip",
            imap,
        )
    assert report.files == 3
    assert report.skipped == [{"file": "pipe.png", "reason": NOT_REGULAR}]


def bmp_header_only(path, width: int, height: int) -> None:
    """A BMP whose header claims ``width`` x ``height``: opening it reads only the header."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="BMP")
    data = bytearray(buffer.getvalue())
    data[18:26] = struct.pack("<ii", width, height)
    path.write_bytes(bytes(data))


def test_max_pixels_above_pillows_own_limit_is_honoured(tmp_path):
    # 200 megapixels: over Pillow's default bomb limit (about 179), under max_pixels.
    bmp_header_only(tmp_path / "big.bmp", 20_000, 10_000)
    # Let through by the check, the file gets as far as decoding, where its missing pixels
    # show; at Pillow's default limit it would have been refused as a decompression bomb.
    with pytest.raises(OSError, match="truncated"):
        with open_image(tmp_path / "big.bmp", 300_000_000):
            pass
    with pytest.raises(ImageTooLarge, match="over data.max_pixels"):
        with open_image(tmp_path / "big.bmp", 150_000_000):
            pass
    with pytest.raises(ImageTooLarge, match="200000000 pixels, over data.max_pixels"):
        with open_image(tmp_path / "big.bmp", 50_000_000):
            pass
    assert Image.MAX_IMAGE_PIXELS == 89_478_485, "Pillow's limit is restored for other uses"


def test_a_huge_header_is_skipped_by_denoise_images(tmp_path):
    bmp_header_only(tmp_path / "big.bmp", 20_000, 10_000)
    with pytest.raises(ImageTooLarge):
        load_full(tmp_path / "big.bmp", "per-channel", 100_000_000)
