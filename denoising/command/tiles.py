"""Tiled inference: denoise an image of any size in overlapping tiles, blended by a smooth
window so that no seam shows.

Near a tile's edge the model sees the tile's zero padding instead of the real neighbours, over
its receptive field radius. So each tile's output is weighted by a window that is 0 over a
``margin`` (at least that radius) on every side that meets another tile, rises along a raised
cosine, and is 1 elsewhere. Sides on the image's own border keep weight 1: there the untiled model
sees the same padding. Tile origins are multiples of the model's size multiple, so its poolings
see the same grid as on the whole image. The blend then equals the untiled output up to float
rounding, and where the window rises, both tiles agree, so no seam can show.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Pad (height, width, ...) at the bottom and right, by reflection, to multiples of
    ``multiple``; a model with poolings needs that."""
    height, width = image.shape[:2]
    extra = (-height % multiple, -width % multiple)
    if extra == (0, 0):
        return image
    pad = [(0, extra[0]), (0, extra[1])] + [(0, 0)] * (image.ndim - 2)
    mode = "reflect" if min(height, width) > max(extra) else "symmetric"
    return np.pad(image, pad, mode=mode)


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Where tiles start along one axis: every ``tile - overlap`` pixels (rounded down to a
    multiple), the last one flush with the end. One tile if ``length <= tile``."""
    if length <= tile:
        return [0]
    step = max(multiple, (tile - overlap) // multiple * multiple)
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def receptive_radius(
    predict: Callable[[np.ndarray], np.ndarray], size: int = 128, channels: int = 1
) -> int:
    """How far (in pixels) one input pixel reaches into the output: change one pixel of a
    random image and see which outputs move. Tried at 8 neighbouring positions (every phase of
    up to 3 poolings) on different images, since a ReLU that happens to be off can hide a path.
    Capped at ``size // 2``. ``predict`` takes images of ``channels``."""
    offsets = range(8)
    shape = (len(offsets), size, size, channels)
    images = np.random.default_rng(0).random(shape).astype(np.float32)
    changed = images.copy()
    centres = [size // 2 - 4 + offset for offset in offsets]
    for index, centre in enumerate(centres):
        changed[index, centre, centre, 0] = 1.0 - changed[index, centre, centre, 0]
    moved = np.abs(predict(changed) - predict(images)).max(axis=-1) > 0
    radius = 0
    for index, centre in enumerate(centres):
        points = np.argwhere(moved[index])
        if len(points):
            radius = max(radius, int(np.abs(points - centre).max()))
    return radius


def edge_ramp(length: int, overlap: int, margin: int, at_start: bool, at_end: bool):
    """A 1-D window of ``length``: 1 in the middle, and on each side that meets another tile,
    0 over ``margin`` pixels, then a raised cosine up to 1 over the rest of ``overlap`` less a
    margin (the neighbour's zero band)."""
    window = np.ones(length, dtype=np.float64)
    rise = max(1, overlap - 2 * margin)
    ramp = np.concatenate(
        [np.zeros(margin), 0.5 - 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / rise)]
    )[:length]
    if not at_start:
        window[: len(ramp)] = np.minimum(window[: len(ramp)], ramp)
    if not at_end:
        window[length - len(ramp) :] = np.minimum(window[length - len(ramp) :], ramp[::-1])
    return window


@dataclass(frozen=True)
class Tiling:
    """Square tiles of ``tile`` pixels overlapping by ``overlap``, each ignoring ``margin``
    pixels along the edges it shares (``overlap`` must be at least ``2 * margin + 1``), starting
    at multiples of ``multiple``; ``batch`` tiles go to the model at once, each channel by
    itself, or with ``joint`` all channels together (a colour model)."""

    tile: int
    overlap: int
    margin: int
    multiple: int = 1
    batch: int = 8
    joint: bool = False


def predict_tiled(
    predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, tiling: Tiling
) -> np.ndarray:
    """Denoise ``image`` (height, width, channels) in tiles. ``predict`` maps a batch (n, tile,
    tile, 1), or with ``tiling.joint`` (n, tile, tile, channels), to outputs of the same shape.
    The result has the input's shape, float32."""
    height, width = image.shape[:2]
    bands = predict_bands(predict, lambda top, bottom: image[top:bottom], height, width, tiling)
    return np.concatenate(list(bands))


def padded_rows(
    rows: Callable[[int, int], np.ndarray],
    top: int,
    bottom: int,
    height: int,
    width: int,
    multiple: int,
) -> np.ndarray:
    """Rows ``top:bottom`` of the image padded as ``pad_to_multiple`` pads it, read through
    ``rows(top, bottom)``, which gives the image's own rows (float32, (k, width, channels))."""
    extra = (-height % multiple, -width % multiple)
    mode = "reflect" if min(height, width) > max(extra) else "symmetric"
    wanted = np.arange(top, bottom)
    # Rows past the bottom mirror the last ones, as np.pad does: with or without the edge row.
    mirror = 2 * height - (2 if mode == "reflect" else 1)
    wanted = np.where(wanted < height, wanted, mirror - wanted)
    first, last = int(wanted.min()), int(wanted.max()) + 1
    band = rows(first, last)[wanted - first]
    if extra[1]:
        band = np.pad(band, [(0, 0), (0, extra[1]), (0, 0)], mode=mode)
    return band


def predict_bands(
    predict: Callable[[np.ndarray], np.ndarray],
    rows: Callable[[int, int], np.ndarray],
    height: int,
    width: int,
    tiling: Tiling,
) -> Iterator[np.ndarray]:
    """Denoise an image of ``height`` x ``width`` whose rows ``rows(top, bottom)`` gives
    (float32, (k, width, channels)), one row of tiles at a time, and yield the result as
    consecutive bands of finished rows (float32), top to bottom; each channel is denoised by
    itself, or with ``tiling.joint`` all of them at once. Memory holds one row of tiles and its
    blend (about ``tile`` rows of the width), never the whole image: the rows above the next
    row of tiles are final and go out at once."""
    tile, overlap, margin = tiling.tile, tiling.overlap, tiling.margin
    multiple, batch = tiling.multiple, tiling.batch
    padded = (height + -height % multiple, width + -width % multiple)
    tile = max(multiple, tile // multiple * multiple)
    tops = tile_starts(padded[0], tile, overlap, multiple)
    lefts = tile_starts(padded[1], tile, overlap, multiple)
    size = (min(tile, padded[0]), min(tile, padded[1]))
    held = 0  # the image row that the blend buffers start at
    total = weight = None
    for index, top in enumerate(tops):
        band = padded_rows(rows, top, top + size[0], height, width, multiple)
        channels = band.shape[-1]
        if total is None:
            total = np.zeros((0, padded[1], channels), dtype=np.float64)
            weight = np.zeros((0, padded[1], 1), dtype=np.float64)
        grow = top + size[0] - held - len(total)
        if grow > 0:
            total = np.concatenate([total, np.zeros((grow, *total.shape[1:]))])
            weight = np.concatenate([weight, np.zeros((grow, *weight.shape[1:]))])
        at_top, at_bottom = top == 0, top + size[0] == padded[0]
        rows_window = edge_ramp(size[0], overlap, margin, at_top, at_bottom)
        # Every channel of every tile in this row, ``batch`` tiles (of all channels) a call.
        for first in range(0, len(lefts), batch):
            group = lefts[first : first + batch]
            if tiling.joint:
                inputs = np.stack([band[:, s : s + size[1]] for s in group])
                outputs = np.moveaxis(predict(inputs), -1, 1)
            else:
                inputs = np.stack(
                    [band[:, s : s + size[1], c : c + 1] for s in group for c in range(channels)]
                )
                outputs = predict(inputs).reshape(len(group), channels, *size)
            for left, output in zip(group, outputs, strict=True):
                window = np.outer(
                    rows_window,
                    edge_ramp(size[1], overlap, margin, left == 0, left + size[1] == padded[1]),
                )[..., np.newaxis]
                place = (slice(top - held, top - held + size[0]), slice(left, left + size[1]))
                total[place] += window * np.moveaxis(output, 0, -1)
                weight[place] += window
        # Rows above the next row of tiles get nothing more: they are final.
        done = tops[index + 1] if index + 1 < len(tops) else padded[0]
        if min(done, height) > held:
            count = min(done, height) - held
            yield (total[:count, :width] / weight[:count, :width]).astype(np.float32)
        total, weight = total[done - held :], weight[done - held :]
        held = done
