"""Full-size images for denoise-images: every frame in, and out at the input's bit depth.

TIFF files are read with tifffile, which keeps what Pillow loses: every frame of a stack (Pillow
gives the first), and 16-bit colour (Pillow reduces it to 8 bits). Other formats, and kinds of
TIFF that are not plain grey or RGB samples (palette, CMYK, 1-bit, white-is-zero), are read
with Pillow, as preprocess reads them: the first frame. Results are written as PNG, or as TIFF
with every frame. The guarantee: an identity model gives back exactly the input's pixels, at its
bit depth (8-bit, 16-bit, or float32 in TIFF), with the alpha channel as it was.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from denoising.images import (
    WIDE_MODE_SCALE,
    ImageTooLarge,
    irregular_reason,
    open_image,
    wide_to_float,
)

TIFF_EXTENSIONS = (".tif", ".tiff")
FORMATS = {"png": ".png", "tiff": ".tif"}
SCALES = {"uint8": 255.0, "uint16": 65535.0, "float32": 1.0}
# Modes that hold one grey channel; everything else is treated as colour.
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# Pillow's grey conversion (ITU-R 601-2 luma), for colour TIFFs read with --color gray.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class FullImage:
    """An image at its own size: ``channels`` (frames, height, width, channels) float32 in
    [0, 1]; ``alpha`` (frames, height, width) as stored, put back unchanged; ``dtype`` the
    pixels' type in the file ("uint8", "uint16" or "float32"), which the result keeps."""

    channels: np.ndarray
    alpha: np.ndarray | None
    dtype: str

    @property
    def pixels(self) -> int:
        """Pixels per channel, over every frame."""
        return int(np.prod(self.channels.shape[:3]))


def output_format(path: Path, chosen: str) -> str:
    """The format a result is written in: ``chosen`` ("png" or "tiff"), or for "auto" TIFF
    for a TIFF input and PNG otherwise."""
    if chosen != "auto":
        return chosen
    return "tiff" if Path(path).suffix.lower() in TIFF_EXTENSIONS else "png"


def load_full(path: Path, color: str, max_pixels: int) -> FullImage:
    """Load an image at full size: grey stays one channel; colour becomes R, G, B with
    ``color="per-channel"`` or one grey channel with ``color="gray"``."""
    if Path(path).suffix.lower() in TIFF_EXTENSIONS:
        image = _read_tiff(path, color, max_pixels)
        if image is not None:
            return image
    return _read_pillow(path, color, max_pixels)


def _read_tiff(path: Path, color: str, max_pixels: int) -> FullImage | None:
    """A grey or RGB TIFF (with or without alpha, any number of frames) read by tifffile, or
    None for a kind that Pillow reads better."""
    reason = irregular_reason(path)
    if reason is not None:
        raise OSError(reason)
    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        page = tiff.pages[0]
        photometric = {tifffile.PHOTOMETRIC.MINISBLACK: 1, tifffile.PHOTOMETRIC.RGB: 3}
        colours = photometric.get(page.photometric)
        axes = series.axes
        samples = series.shape[-1] if axes.endswith("YXS") else 1
        extra = len(page.extrasamples)
        if (
            colours is None
            or str(series.dtype) not in SCALES
            or not (axes.endswith("YX") or axes.endswith("YXS"))
            or samples != colours + extra
            or extra > 1
        ):
            return None
        height, width = page.imagelength, page.imagewidth
        frames = int(np.prod(series.shape)) // (height * width * samples)
        if height * width * frames > max_pixels:
            raise ImageTooLarge(
                f"{width}x{height} in {frames} frames is {width * height * frames} pixels, "
                f"over the limit ({max_pixels})"
            )
        data = series.asarray().reshape(frames, height, width, samples)
    dtype = str(data.dtype)
    alpha = data[..., colours].copy() if extra else None
    pixels = np.clip(data[..., :colours].astype(np.float32) / SCALES[dtype], 0.0, 1.0)
    if colours == 3 and color == "gray":
        pixels = (pixels @ LUMA)[..., np.newaxis]
    return FullImage(pixels, alpha, dtype)


def _read_pillow(path: Path, color: str, max_pixels: int) -> FullImage:
    """The first frame of any format Pillow reads, 16-bit and float grey kept as 16-bit."""
    with open_image(path, max_pixels) as image:
        if image.mode in WIDE_MODE_SCALE:
            return FullImage(wide_to_float(image)[np.newaxis, ..., np.newaxis], None, "uint16")
        alpha = None
        if "A" in image.getbands() or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA").getchannel("A"))[np.newaxis]
        if image.mode in GRAY_MODES or color == "gray":
            pixels = np.asarray(image.convert("L"))[..., np.newaxis]
        else:
            pixels = np.asarray(image.convert("RGB"))
        return FullImage(pixels[np.newaxis].astype(np.float32) / 255.0, alpha, "uint8")


def format_problem(image: FullImage, chosen: str) -> str | None:
    """Why ``image`` cannot be written in format ``chosen`` without losing something, or None."""
    if chosen != "png":
        return None
    if image.channels.shape[0] > 1:
        return f"{image.channels.shape[0]} frames, which a PNG cannot hold; use --format tiff"
    if image.dtype != "uint8" and (image.channels.shape[-1] > 1 or image.alpha is not None):
        return f"{image.dtype} colour, which this PNG writer cannot keep; use --format tiff"
    return None


def save_image(path: Path, image: FullImage, chosen: str) -> None:
    """Write ``image`` in format ``chosen`` ("png" or "tiff") at its own bit depth, with its
    alpha channel put back. A float32 image becomes a 16-bit PNG, or a float32 TIFF."""
    pixels = np.clip(image.channels, 0.0, 1.0)
    dtype = image.dtype if chosen == "tiff" or image.dtype == "uint8" else "uint16"
    if dtype == "float32":
        stored = pixels.astype(np.float32)
    else:
        stored = np.round(pixels * SCALES[dtype]).astype(dtype)
    if image.alpha is not None:
        stored = np.concatenate([stored, image.alpha[..., np.newaxis].astype(dtype)], axis=-1)
    if chosen == "tiff":
        colour, alpha = image.channels.shape[-1] == 3, image.alpha is not None
        if not colour and not alpha:
            stored = stored[..., 0]  # grey: pages of (height, width)
        tifffile.imwrite(
            path,
            stored[0] if len(stored) == 1 else stored,
            photometric="rgb" if colour else "minisblack",
            extrasamples=["unassalpha"] if alpha else None,
            planarconfig="contig" if colour or alpha else None,
        )
        return
    frame = stored[0]
    Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame).save(path, "PNG")
