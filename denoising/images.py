"""One image file -> array: open it safely (size checked from the header, EXIF orientation
applied), load it as grayscale (or R, G, B) in [0, 1], resized whole or cut into patches at its
own size."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from denoising.listing import irregular_reason

# Pillow's convert("L") clips 16- and 32-bit integer pixels at 255 instead of scaling them, so
# these modes are scaled by hand: integers from the 16-bit range, floats as already in [0, 1].
WIDE_MODE_SCALE = {
    "I": 65535.0,
    "I;16": 65535.0,
    "I;16B": 65535.0,
    "I;16L": 65535.0,
    "I;16N": 65535.0,
    "F": 1.0,
}
# What reading one file may raise. Pillow's decoders and metadata parsers raise many types for
# a damaged file (SyntaxError from a corrupt EXIF block, struct.error, EOFError, IndexError,
# TypeError, ...); a fuzz test found them. Each is that file's problem, never the whole run's:
# the file is skipped and named, or, with on_error "fail", named in one line.
READ_ERRORS = (Exception,)


class ImageTooLarge(ValueError):
    """An image with more pixels than ``data.max_pixels`` allows."""


class ImageTooSmall(ValueError):
    """An image smaller than the patch or crop that preprocess must cut from it."""


@contextmanager
def open_image(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """Open an image with EXIF orientation applied; a multi-frame file (GIF, TIFF) gives its
    first frame. The size is checked from the header, before any pixel is decoded.

    This check is the decompression-bomb guard, at ``max_pixels``: Pillow's own (at about 179
    megapixels, also from the header) is set aside while the file opens, since it would refuse
    images that ``max_pixels`` allows, and name a limit that is not the user's."""
    reason = irregular_reason(path)
    if reason is not None:
        raise OSError(reason)
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    with image:
        if image.width * image.height > max_pixels:
            raise ImageTooLarge(
                f"{image.width}x{image.height} is {image.width * image.height} pixels, "
                f"over data.max_pixels ({max_pixels})"
            )
        # In place: without an orientation tag, the default returns a copy of every image.
        ImageOps.exif_transpose(image, in_place=True)
        yield image


def wide_to_float(image: Image.Image) -> np.ndarray:
    """A 16/32-bit integer or float single-channel image as float32 in [0, 1]."""
    pixels = np.asarray(image, dtype=np.float32) / WIDE_MODE_SCALE[image.mode]
    return np.clip(pixels, 0.0, 1.0)


def load_grayscale(path: Path, shape: tuple[int, int], max_pixels: int) -> np.ndarray:
    """Load one image as float32 grayscale in [0, 1], resized to ``shape`` (height, width)."""
    height, width = shape
    with open_image(path, max_pixels) as image:
        if image.mode in WIDE_MODE_SCALE:
            wide = Image.fromarray(wide_to_float(image))
            resized = wide.resize((width, height), Image.Resampling.BICUBIC)
            return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        gray = image.convert("L").resize((width, height), Image.Resampling.BICUBIC)
        return np.asarray(gray, dtype=np.float32) / 255.0


def load_native(path: Path, max_pixels: int) -> np.ndarray:
    """Load one image as float32 grayscale in [0, 1] at its own size, for patches."""
    with open_image(path, max_pixels) as image:
        if image.mode in WIDE_MODE_SCALE:
            return wide_to_float(image)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


# Modes with no colour of their own: in an rgb run, their one channel is repeated into R, G, B.
GREY_MODES = ("1", "L", "LA", "La", *WIDE_MODE_SCALE)
# What load_rgb says of an image that did not come as plain RGB.
GREY_REPEATED, ALPHA_DROPPED = "grey_repeated", "alpha_dropped"


def load_rgb(
    path: Path, shape: tuple[int, int] | None, max_pixels: int
) -> tuple[np.ndarray, list[str]]:
    """Load one image as float32 R, G, B in [0, 1], (height, width, 3), resized to ``shape``
    (height, width) or at its own size (None), and what was done to make it so: a grey image's
    channel repeated (``GREY_REPEATED``), an alpha channel dropped (``ALPHA_DROPPED``)."""
    with open_image(path, max_pixels) as image:
        notes = [GREY_REPEATED] if image.mode in GREY_MODES else []
        if "A" in image.getbands() or "transparency" in image.info:
            notes.append(ALPHA_DROPPED)
        if image.mode in WIDE_MODE_SCALE:
            wide = Image.fromarray(wide_to_float(image))
            if shape is not None:
                wide = wide.resize(shape[::-1], Image.Resampling.BICUBIC)
            grey = np.clip(np.asarray(wide, dtype=np.float32), 0.0, 1.0)
            return np.repeat(grey[..., np.newaxis], 3, axis=-1), notes
        rgb = image.convert("RGB")
        if shape is not None:
            rgb = rgb.resize(shape[::-1], Image.Resampling.BICUBIC)
        return np.asarray(rgb, dtype=np.float32) / 255.0, notes


def random_patches(image: np.ndarray, size: int, count: int, rng: np.random.Generator):
    """``count`` square patches of ``size`` at seeded random places: (count, size, size, ...)."""
    height, width = image.shape[:2]
    if height < size or width < size:
        raise ImageTooSmall(f"{width}x{height} is smaller than data.patch_size ({size})")
    tops = rng.integers(0, height - size + 1, size=count)
    lefts = rng.integers(0, width - size + 1, size=count)
    return np.stack([image[t : t + size, s : s + size] for t, s in zip(tops, lefts, strict=True)])


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` square of ``image``."""
    height, width = image.shape[:2]
    if height < size or width < size:
        raise ImageTooSmall(f"{width}x{height} is smaller than data.test_crop ({size})")
    top, left = (height - size) // 2, (width - size) // 2
    return image[top : top + size, left : left + size]
