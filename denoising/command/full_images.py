"""Full-size images for denoise-images: every frame in, and out at the input's bit depth.

TIFF files are read with tifffile, which keeps what Pillow loses: every frame of a stack (Pillow
gives the first), and 16-bit colour (Pillow reduces it to 8 bits). Other formats, and kinds of
TIFF that are not plain grey or RGB samples (palette, CMYK, 1-bit, white-is-zero), are read
with Pillow, as preprocess reads them: the first frame. Results are written as PNG, or as TIFF
with every frame. The guarantee: an identity model gives back exactly the input's pixels, at its
bit depth (8-bit, 16-bit, or float32 in TIFF), with the alpha channel as it was. Float pixels
reach the model as stored, even outside [0, 1] (unclipped Gaussian noise goes there); results
are always clipped to [0, 1].
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from denoising.images import WIDE_MODE_SCALE, ImageTooLarge, open_image
from denoising.listing import irregular_reason

TIFF_EXTENSIONS = (".tif", ".tiff")
FORMATS = {"png": ".png", "tiff": ".tif"}
SCALES = {"uint8": 255.0, "uint16": 65535.0, "float32": 1.0}
# Modes that hold one grey channel; everything else is treated as colour.
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# Pillow's grey conversion (ITU-R 601-2 luma), for colour TIFFs read with --color gray.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class FullImage:
    """An image at its own size, as stored: ``data`` (frames, height, width, channels) of
    uint8, uint16 or float32 (not clipped); ``alpha`` (frames, height, width), put back unchanged;
    ``gray``: colour data read as one grey channel. Kept at the file's own depth (1 or 2 bytes a
    sample, not 4), and handed to the model a band of rows at a time by ``rows``."""

    data: np.ndarray
    alpha: np.ndarray | None
    gray: bool = False

    @property
    def dtype(self) -> str:
        return str(self.data.dtype)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(frames, height, width, channels) as the model sees it."""
        frames, height, width, channels = self.data.shape
        return frames, height, width, 1 if self.gray else channels

    @property
    def pixels(self) -> int:
        """Pixels per channel, over every frame."""
        return int(np.prod(self.data.shape[:3]))

    def rows(self, frame: int, top: int, bottom: int) -> np.ndarray:
        """Rows ``top:bottom`` of ``frame`` as float32, (rows, width, channels): integers scaled
        to [0, 1], float data as stored."""
        band = self.data[frame, top:bottom].astype(np.float32) / SCALES[self.dtype]
        return (band @ LUMA)[..., np.newaxis] if self.gray else band


def result_dtype(image: FullImage, chosen: str) -> str:
    """The depth a result is written at: the input's, except float32 in a PNG (16-bit)."""
    return "uint16" if chosen == "png" and image.dtype == "float32" else image.dtype


def quantize(band: np.ndarray, dtype: str) -> np.ndarray:
    """Model output (float32) as pixels of ``dtype``: clipped to [0, 1], rounded for integers."""
    band = np.clip(band, 0.0, 1.0)
    if dtype == "float32":
        return band.astype(np.float32)
    return np.round(band * SCALES[dtype]).astype(dtype)


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
    alpha = data[..., colours].copy() if extra else None
    if extra:
        data = data[..., :colours].copy()
    return FullImage(data, alpha, gray=colours == 3 and color == "gray")


def _read_pillow(path: Path, color: str, max_pixels: int) -> FullImage:
    """The first frame of any format Pillow reads; 16- and 32-bit integer grey as uint16
    (clipped to its range), float grey as float32 (as stored)."""
    with open_image(path, max_pixels) as image:
        if image.mode == "F":
            wide = np.asarray(image, dtype=np.float32)
            return FullImage(wide[np.newaxis, ..., np.newaxis], None)
        if image.mode in WIDE_MODE_SCALE:
            wide = np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16)
            return FullImage(wide[np.newaxis, ..., np.newaxis], None)
        alpha = None
        if "A" in image.getbands() or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA").getchannel("A"))[np.newaxis]
        if image.mode in GRAY_MODES or color == "gray":
            pixels = np.asarray(image.convert("L"))[..., np.newaxis]
        else:
            pixels = np.asarray(image.convert("RGB"))
        return FullImage(pixels[np.newaxis], alpha)


def format_problem(image: FullImage, chosen: str) -> str | None:
    """Why ``image`` cannot be written in format ``chosen`` without losing something, or None."""
    if chosen != "png":
        return None
    frames, _, _, channels = image.shape
    if frames > 1:
        return f"{frames} frames, which a PNG cannot hold; use --format tiff"
    if image.dtype != "uint8" and (channels > 1 or image.alpha is not None):
        return f"{image.dtype} colour, which this PNG writer cannot keep; use --format tiff"
    return None


def save_image(path: Path, image: FullImage, chosen: str) -> None:
    """Write ``image`` (its ``data`` already at the result's depth) as ``chosen``, "png" or
    "tiff" (every frame), with its alpha channel put back."""
    stored = image.data
    colour, alpha = image.shape[-1] == 3, image.alpha is not None
    if alpha:
        stored = np.concatenate([stored, image.alpha[..., np.newaxis].astype(stored.dtype)], -1)
    if chosen == "tiff":
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
