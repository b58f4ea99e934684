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

from collections.abc import Callable
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


def receptive_radius(predict: Callable[[np.ndarray], np.ndarray], size: int = 128) -> int:
    """How far (in pixels) one input pixel reaches into the output: change one pixel of a
    random image and see which outputs move. Tried at 8 neighbouring positions (every phase of
    up to 3 poolings) on different images, since a ReLU that happens to be off can hide a path.
    Capped at ``size // 2``."""
    offsets = range(8)
    images = np.random.default_rng(0).random((len(offsets), size, size, 1)).astype(np.float32)
    changed = images.copy()
    centres = [size // 2 - 4 + offset for offset in offsets]
    for index, centre in enumerate(centres):
        changed[index, centre, centre, 0] = 1.0 - changed[index, centre, centre, 0]
    moved = np.abs(predict(changed) - predict(images))[..., 0] > 0
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
    at multiples of ``multiple``; ``batch`` tiles go to the model at once."""

    tile: int
    overlap: int
    margin: int
    multiple: int = 1
    batch: int = 8


def predict_tiled(
    predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, tiling: Tiling
) -> np.ndarray:
    """Denoise ``image`` (height, width, channels) in tiles. ``predict`` maps a batch (n, tile,
    tile, channels) to outputs of the same shape. The result has the input's shape, float32."""
    tile, overlap, margin = tiling.tile, tiling.overlap, tiling.margin
    multiple, batch = tiling.multiple, tiling.batch
    height, width = image.shape[:2]
    padded = pad_to_multiple(image, multiple)
    tile = max(multiple, tile // multiple * multiple)
    rows = tile_starts(padded.shape[0], tile, overlap, multiple)
    cols = tile_starts(padded.shape[1], tile, overlap, multiple)
    size = (min(tile, padded.shape[0]), min(tile, padded.shape[1]))
    origins = [(top, left) for top in rows for left in cols]
    total = np.zeros(padded.shape, dtype=np.float64)
    weight = np.zeros(padded.shape[:2] + (1,), dtype=np.float64)
    for first in range(0, len(origins), batch):
        group = origins[first : first + batch]
        inputs = np.stack([padded[t : t + size[0], s : s + size[1]] for t, s in group])
        for (top, left), output in zip(group, predict(inputs), strict=True):
            window = np.outer(
                edge_ramp(size[0], overlap, margin, top == 0, top + size[0] == padded.shape[0]),
                edge_ramp(size[1], overlap, margin, left == 0, left + size[1] == padded.shape[1]),
            )[..., np.newaxis]
            total[top : top + size[0], left : left + size[1]] += window * output
            weight[top : top + size[0], left : left + size[1]] += window
    return (total / weight)[:height, :width].astype(np.float32)
