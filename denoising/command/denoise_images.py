"""denoise-images: apply a trained model to your own images, at their full size.

    denoise-images INPUT... -o OUTDIR                       (the bundled models)
    denoise-images MODEL INPUT... -o OUTDIR [--tile 256 --overlap 32] [--batch 8]
    denoise-images bm3d INPUT... --sigma 0.1 -o OUTDIR     (also cbm3d, nlm, tv)

With no MODEL, each image is denoised by the model that ships with the package for its kind: a
colour photo by the bundled colour model, a grey one by the grey model (a colour model with its
channel repeated, where no grey one is bundled), each told the image's estimated noise level
(printed), or --sigma. MODEL (or --model) may also name a bundled model (gray, color); a
model.keras file (or the folder holding it) with the card.json that the train stage writes
beside it; or one of the classical methods bm3d, cbm3d (BM3D for colour), nlm or tv, told the
noise level with --sigma (the standard deviation on a [0, 1] scale: 0.1 is 25.5 on the 0-255
scale); those need the pipeline's extras (pip install '.[pipeline]') and denoise each frame
whole. A colour model (its card says channels 3) denoises R, G and B together; a grey model
denoises a colour image's channels one by one (or, with --color gray, its grey). A blind model
that takes the noise level (its card says level_input) is told --sigma too; without it, the
level is estimated from each image (Gaussian noise), and the estimate is printed. INPUT is any
mix of image files and folders (read recursively).

Where results go: each is an image of the input's size and bit depth, at OUTDIR/<its path
relative to the folder given> (a file given by itself: OUTDIR/<its name>), with the extension
replaced by .png, or by .tif for a TIFF (every frame of a stack is denoised; --format sets one
format for all). Inputs that would differ only in extension (a.jpg, a.bmp) keep it: a.jpg.png,
a.bmp.png. If two inputs would still share an output (the same relative path under two
folders, one file given twice), nothing is written and the colliding inputs are named. An
existing file is never overwritten unless --overwrite is given; without it, nothing is written
and the file is named.
"""

import argparse
import math
import sys
import threading
import time
from collections import Counter
from copy import copy
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from denoising.bundled import BUNDLED, bundled_folder, for_channels, is_bundled_name
from denoising.cards import CARD, correction, read_card, takes_level
from denoising.cards import channels as card_channels
from denoising.clipping import debias
from denoising.command.ensemble import self_ensemble
from denoising.command.full_images import (
    FORMATS,
    FullImage,
    format_problem,
    load_full,
    output_format,
    quantize,
    result_dtype,
    save_image,
)
from denoising.command.tiles import Tiling, predict_bands, receptive_radius
from denoising.errors import UserError, run_stage
from denoising.files import atomic_path
from denoising.images import READ_ERRORS
from denoising.listing import irregular_reason, list_files, skip_reason
from denoising.names import CLASSICAL, COLOR_ONLY, COLORS
from denoising.noise_map import conditioned, with_level


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments, as ``--help`` shows them."""
    parser = argparse.ArgumentParser(
        prog="denoise-images",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        metavar="[MODEL] INPUT",
        help="files or folders, after an optional MODEL: a bundled model (gray, color), "
        "model.keras or the folder that holds it, or bm3d, cbm3d, nlm, tv",
    )
    parser.add_argument(
        "--model", type=Path, help="the model, as MODEL (every positional is then an INPUT)"
    )
    parser.add_argument("-o", "--out-dir", type=Path, required=True)
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels (256)")
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (32)")
    parser.add_argument("--batch", type=int, default=8, help="tiles per model call (8)")
    parser.add_argument(
        "--color",
        choices=COLORS,
        default="per-channel",
        help="colour images and a grey model: denoise R, G and B each (per-channel), or convert "
        "to grey first",
    )
    parser.add_argument(
        "--resize",
        nargs="?",
        const="true",
        default="false",
        choices=("true", "false"),
        help="for a fixed-size (dense) model: resize to its size, denoise, resize back",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=200_000_000,
        help="larger images are skipped as unreadable (200000000)",
    )
    parser.add_argument(
        "--format",
        choices=("auto", *FORMATS),
        default="auto",
        help="results as PNG, or TIFF with every frame; auto: TIFF for TIFF inputs, else PNG",
    )
    parser.add_argument(
        "--sigma",
        type=float,
        help="the noise level (standard deviation, 0 to 1) for bm3d, nlm, tv and models that "
        "take one; such a model, without it, is told each image's estimated level",
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        help="average the 8 flips and rotations of each tile (self-ensemble): 8x the time",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace results that already exist in OUTDIR (never an input image)",
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers",
        type=int,
        help="spread the files over N worker processes on this machine (a Dask LocalCluster; "
        "pip install '.[cluster]')",
    )
    cluster.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="spread the files over the workers of the Dask scheduler at ADDRESS "
        "(tcp://host:8786); they must reach the model, the inputs and OUTDIR by the same paths",
    )
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, checked: a value out of range stops the command in one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model is None and names_model(args.inputs[0]):
        args.model, args.inputs = args.inputs[0], args.inputs[1:]
        if not args.inputs:
            parser.error(f"give the images to denoise after MODEL {args.model}")
    args.resize = args.resize == "true"  # "--resize false" too, for params templated by DVC
    if args.tile < 8:
        parser.error(f"--tile: {args.tile} is too small; it must be at least 8 pixels")
    if not 0 <= args.overlap <= args.tile // 2:
        parser.error(f"--overlap: {args.overlap} must be >= 0 and at most half of --tile")
    if args.batch < 1:
        parser.error(f"--batch: {args.batch} must be at least 1")
    if args.max_pixels < 1:
        parser.error(f"--max-pixels: {args.max_pixels} must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers: {args.workers} must be at least 1")
    if args.sigma is not None and not 0 <= args.sigma <= 1:
        parser.error(f"--sigma: {args.sigma} must be between 0 and 1 (0.1 is 25.5 of 255)")
    return args


def names_model(path: Path) -> bool:
    """Whether the first positional is MODEL, not an image: a bundled or classical name, a
    .keras file, or a folder that holds a model.keras."""
    if is_bundled_name(path) or is_classical_name(path):
        return True
    return path.suffix == ".keras" or (path / "model.keras").is_file()


def is_classical_name(model: Path) -> bool:
    """Whether MODEL, as given, names a classical method rather than a path."""
    return str(model) in CLASSICAL and not model.exists()


def model_path(model: Path) -> Path:
    """MODEL's file or folder: a bundled name is its folder in the package."""
    return bundled_folder(str(model)) if is_bundled_name(model) else model


def load_model(path: Path, card: dict):
    """Load the model (code in it, such as a Lambda layer, is refused by Keras' safe mode) and
    check that it is the model its card describes, with a probe image of the card's size."""
    from denoising.quiet import load_tensorflow

    load_tensorflow()  # Late, so that argument errors show before TensorFlow starts.
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged or unsafe file.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(
            f"{path}: cannot load this model ({type(error).__name__}: {reason[:300]})"
        ) from None
    card_path = path.with_name(CARD)
    shape = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
    colours = card_channels(card)
    channels = colours + takes_level(card)  # The image's, and the noise level if it takes one.
    if shape is None or len(shape) != 3 or shape[2] != channels:
        wanted = "one grey channel" if colours == 1 else "R, G and B"
        wanted += " and the noise level" * takes_level(card)
        raise UserError(f"{path}: takes inputs {shape}; its card says it takes {wanted}")
    fixed = card["input_shape"] != "any"
    if fixed and shape != tuple(card["input_shape"]):
        raise UserError(
            f"{card_path}: input_shape: {card['input_shape']} contradicts the model, which "
            f"takes {list(shape)}"
        )
    if not fixed and shape[:2] != (None, None):
        raise UserError(
            f"{card_path}: input_shape: 'any' contradicts the model, which takes only "
            f"{list(shape)}"
        )
    # An odd multiple of the card's size multiple: too small a multiple shows as a failure.
    side = 3 * card["size_multiple"]
    probe = np.zeros((1, *(shape[:2] if fixed else (side, side)), colours), dtype=np.float32)
    try:
        output = np.asarray(model.predict_on_batch(with_level(probe, 0.1)[..., :channels]))
    except Exception:  # TensorFlow raises its own types for shapes that do not fit.
        output = None
    if output is None or output.shape != probe.shape:
        raise UserError(
            f"{card_path}: size_multiple: {card['size_multiple']} contradicts the model, which "
            f"cannot map a {probe.shape[2]}x{probe.shape[1]} image to the same size"
        )
    return model


def list_inputs(inputs: list[Path]) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """(file, path relative to its input) for every image, and the files skipped by name."""
    found, skipped = [], []
    for item in inputs:
        if item.is_dir():
            names = list_files(item)
        elif item.exists():
            names, item = [item.name], item.parent
        else:
            raise UserError(f"{item}: no such file or folder")
        for name in names:
            path, relative = item / name, Path(name)
            reason = skip_reason(name) or irregular_reason(path)
            if reason is None:
                found.append((path, relative))
            else:
                skipped.append({"file": str(path), "reason": reason})
    return found, skipped


def output_paths(
    found: list[tuple[Path, Path]], inputs: list[Path], out_dir: Path, overwrite: bool, chosen: str
) -> list[Path]:
    """Where each result goes (the rule is in the module's docstring). Refuses, before anything
    is written, any plan in which two inputs share an output, an output would replace an input,
    an output exists already (unless ``overwrite``), or outputs land inside an input folder."""
    resolved = out_dir.resolve()
    for item in inputs:
        if item.is_dir() and resolved.is_relative_to(item.resolve()):
            raise UserError(f"-o {out_dir}: it is inside input folder {item}; choose another")
    suffixes = [FORMATS[output_format(path, chosen)] for path, _ in found]
    targets = [
        out_dir / relative.with_suffix(suffix)
        for (_, relative), suffix in zip(found, suffixes, strict=True)
    ]
    # Two inputs that differ only in extension (a.jpg, a.png) keep their extension in the name.
    # (Counted once: a count per target would take quadratic time on a folder of thousands.)
    uses = Counter(targets)
    targets = [
        out_dir / relative.with_name(relative.name + suffix) if uses[target] > 1 else target
        for (_, relative), target, suffix in zip(found, targets, suffixes, strict=True)
    ]
    first_input: dict[Path, int] = {}
    for index, target in enumerate(targets):
        other = first_input.setdefault(target, index)
        if other != index:
            raise UserError(
                f"{found[other][0]} and {found[index][0]} would both be written to {target}; "
                "nothing was written. Denoise them into different -o folders, or rename one"
            )
    sources = {path.resolve() for path, _ in found}
    existing = []
    for target in targets:
        if target.resolve() in sources:
            raise UserError(f"{target}: would overwrite an input image; choose another -o")
        if target.exists() or target.is_symlink():
            if not target.is_file() or not overwrite:
                existing.append(target)
        # A file where a folder of results must go would stop the run halfway.
        for folder in target.relative_to(out_dir).parents:
            if (out_dir / folder).is_file():
                existing.append(out_dir / folder)
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        # --overwrite replaces results, not a folder or a file that stands where a folder must.
        replaceable = existing[0].is_file() and existing[0] in set(targets)
        allowed = "; --overwrite replaces existing results" if replaceable else ""
        raise UserError(f"{existing[0]}: already exists{more}; nothing was written{allowed}")
    return targets


def plan_tiling(predict, card: dict, args: argparse.Namespace) -> Tiling:
    """Tiles that reproduce the untiled output: the margin each tile ignores must cover the
    model's receptive field radius, so a too small --overlap (or --tile) is raised, with a note."""
    joint = card_channels(card) > 1  # A colour model takes R, G and B together.
    margin = receptive_radius(predict, channels=card_channels(card))
    overlap = max(args.overlap, 2 * margin + 8)
    tile = max(args.tile, 2 * overlap)
    if (overlap, tile) != (args.overlap, args.tile):
        print(
            f"note: model '{card['model']}' reaches {margin} pixels around each pixel, so tiles "
            f"are {tile} pixels with an overlap of {overlap}, to match the untiled result",
            file=sys.stderr,
        )
    return Tiling(tile, overlap, margin, card["size_multiple"], args.batch, joint)


def denoise(image: FullImage, predict, card: dict, tiling: Tiling | None, dtype: str) -> FullImage:
    """Denoise every frame of ``image`` into a result of ``dtype``: in tiles, a band of rows at
    a time, so that memory holds the image at its own depth and one row of tiles; or, for a
    fixed-size model (``tiling`` None), resized to its size and back. A grey model denoises
    each channel by itself; a colour model takes R, G and B together, and a grey image's one
    channel repeated three times, which its result averages back into one."""
    frames, height, width, channels = image.shape
    repeat = card_channels(card) // channels  # 3 for a grey image and a colour model, else 1
    result = np.empty((frames, height, width, channels), dtype=dtype)
    for frame in range(frames):

        def rows(top: int, bottom: int, frame: int = frame) -> np.ndarray:
            band = image.rows(frame, top, bottom)
            return np.repeat(band, repeat, axis=-1) if repeat > 1 else band

        if tiling is None:
            joint = card_channels(card) > 1
            bands = [denoise_fixed(rows(0, height), predict, card["input_shape"][:2], joint)]
        else:
            bands = predict_bands(predict, rows, height, width, tiling)
        top = 0
        for band in bands:
            if repeat > 1:
                band = band.mean(axis=-1, keepdims=True)
            result[frame, top : top + len(band)] = quantize(band, dtype)
            top += len(band)
    return FullImage(result, image.alpha)


def denoise_fixed(image: np.ndarray, predict, shape: list[int], joint: bool) -> np.ndarray:
    """A fixed-size model: resize each channel to its size, denoise (each channel by itself, or
    with ``joint`` all together), resize back (--resize)."""
    height, width, channels = image.shape

    def resized(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        small = Image.fromarray(plane).resize(size, Image.Resampling.BICUBIC)
        return np.asarray(small, dtype=np.float32)

    small = [resized(image[..., channel], tuple(shape[::-1])) for channel in range(channels)]
    if joint:
        outputs = predict(np.stack(small, axis=-1)[np.newaxis])[0]
        planes = [outputs[..., channel] for channel in range(channels)]
    else:
        planes = [predict(plane[np.newaxis, ..., np.newaxis])[0, ..., 0] for plane in small]
    return np.stack([resized(plane, (width, height)) for plane in planes], axis=-1)


def domain_warning(path: Path, size: tuple[int, int], card: dict) -> str | None:
    """A one-line warning when an image is far from what the model was trained on: a model
    trained on whole images resized to h x w, given one more than 4 times larger (or smaller)
    on a side. Cards from before the "data" entry say nothing, so nothing is said."""
    data = card.get("data")
    if not isinstance(data, dict) or data.get("mode") != "resize":
        return None
    trained = data.get("image_shape")
    if not (isinstance(trained, list) and len(trained) == 2 and min(trained) > 0):
        return None
    ratios = [size[i] / trained[i] for i in (0, 1)]
    if all(0.25 <= ratio <= 4 for ratio in ratios):
        return None
    return (
        f"warning: {path}: model '{card['model']}' was trained on images resized to "
        f"{trained[1]}x{trained[0]} ({data.get('dir')}); this image is {size[1]}x{size[0]}: "
        "expect poor results; train on images like it, with data.mode: patches"
    )


def check_size(path: Path, size: tuple[int, int], card: dict, resize: bool) -> None:
    """A fixed-size model takes only its training size, unless --resize accepts the resizing."""
    shape = card["input_shape"]
    if shape == "any" or resize or list(size) == shape[:2]:
        return
    raise UserError(
        f"{path}: {size[1]}x{size[0]}, but model '{card['model']}' only takes "
        f"{shape[1]}x{shape[0]} images (its training size); pass --resize to resize to that "
        "size and back, or use a convolutional model (conv, dncnn, unet) for any size"
    )


def check_sigma(card: dict, sigma: float | None) -> None:
    """--sigma goes with a model only if it takes a noise level; a level it can estimate
    (Gaussian noise) may be left out."""
    if takes_level(card):
        noise = card.get("noise", {}).get("type", "gaussian")
        if sigma is None and noise != "gaussian":
            raise UserError(
                f"--sigma: model '{card['model']}' was trained on {noise} noise, whose level "
                "cannot be estimated from an image; give its level with --sigma"
            )
    elif sigma is not None:
        raise UserError(
            f"--sigma: model '{card['model']}' takes no noise level (it was trained for its "
            "own); --sigma is for bm3d, nlm, tv and blind models with level_input"
        )


# The estimate reads at most this many rows and columns from the middle of the first frame, so
# that a huge image is never held in memory whole.
ESTIMATE_SIDE = 1024


def image_level(path: Path, image: FullImage, sigma: float | None) -> float:
    """The noise level a model is told for ``image``: --sigma, or scikit-image's estimate of
    the Gaussian sigma (averaged over the channels) on the middle of its first frame, printed."""
    if sigma is not None:
        return sigma
    try:
        from skimage.restoration import estimate_sigma
    except ImportError:
        raise UserError(
            "--sigma: give the noise level; estimating it needs the pipeline's extras "
            "(pip install '.[pipeline]')"
        ) from None

    _, height, width, _ = image.shape
    top, left = max(0, (height - ESTIMATE_SIDE) // 2), max(0, (width - ESTIMATE_SIDE) // 2)
    pixels = image.rows(0, top, top + ESTIMATE_SIDE)[:, left : left + ESTIMATE_SIDE]
    level = float(estimate_sigma(pixels, channel_axis=-1, average_sigmas=True))
    level = level if math.isfinite(level) else 0.0  # a flat image: no detail, no noise
    tqdm.write(f"{path}: estimated noise level {level:.4f} ({level * 255:.1f} of 255)", sys.stderr)
    return level


def classical(method: str, sigma: float | None):
    """How a classical method denoises one image, ``run(path, image, dtype)``: each frame whole,
    a colour one as the baselines stage denoises it in an rgb run (bm3d channel by channel,
    cbm3d in its opponent colour space, nlm and tv along the channel axis)."""
    if sigma is None:
        raise UserError(f"{method}: give the noise level with --sigma (0.1 is 25.5 of 255)")
    try:
        from denoising.score.baselines import denoise_image
    except ImportError as error:
        raise UserError(
            f"{method}: needs the pipeline's extras ({error.name} is missing); "
            "pip install '.[pipeline]'"
        ) from None

    def run(path: Path, image: FullImage, dtype: str) -> FullImage:
        frames, height, _, channels = image.shape
        chosen = method
        if method in COLOR_ONLY and channels == 1:
            chosen = "bm3d"
            tqdm.write(f"note: {path} is grey: bm3d ran ({method} is for colour)", sys.stderr)
        result = np.empty((*image.shape[:3], channels), dtype=dtype)
        for frame in range(frames):
            pixels = image.rows(frame, 0, height)
            # Grey as (H, W); colour whole, as the baselines stage denoises it.
            pixels = pixels[..., 0] if channels == 1 else pixels
            denoised = denoise_image(chosen, pixels, sigma, {})
            result[frame] = quantize(denoised.reshape(result.shape[1:]), dtype)
        return FullImage(result, image.alpha)

    return run


def check_tta(args: argparse.Namespace, method: str | None, card: dict) -> None:
    """--tta needs a model whose input keeps its shape when it is turned."""
    if args.tta and method is not None:
        raise UserError(f"--tta: {method} has no orientation to average away; leave --tta out")
    shape = card["input_shape"]
    if args.tta and shape != "any" and shape[0] != shape[1]:
        raise UserError(
            f"--tta: model '{card['model']}' takes only {shape[1]}x{shape[0]} "
            "images, which turn into another shape when rotated; leave --tta out"
        )


def model_denoiser(model_path: Path, card: dict, args: argparse.Namespace):
    """Load the model and return how it denoises one image: ``run(path, image, dtype)``, told
    the image's level if it takes one, self-ensembled with --tta, in tiles for a fully
    convolutional model."""
    model = load_model(model_path, card)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(batch))

    def predict_at(level: float | None):
        told = predict if level is None else conditioned(predict, level)
        return self_ensemble(told) if args.tta else told

    debias_at = correction(card)

    def corrected(told):
        """As the card asks: the outputs through the inverse of the clipped-Gaussian mean."""
        return told if debias_at is None else (lambda batch: debias(told(batch), debias_at))

    told = takes_level(card)
    tiling = None
    if card["input_shape"] == "any":
        # How far a pixel's influence reaches is the network's; any level shows it.
        tiling = plan_tiling(predict_at(0.1 if told else None), card, args)
    noted = []

    def run(path: Path, image: FullImage, dtype: str) -> FullImage:
        channels, name = image.shape[-1], card["model"]
        if card_channels(card) > channels:
            tqdm.write(
                f"note: {path} is grey: its channel is repeated into R, G and B for colour model "
                f"'{name}', and the result is grey",
                sys.stderr,
            )
        elif card_channels(card) < channels and not noted:
            noted.append(path)
            tqdm.write(
                f"note: model '{name}' is grey, so R, G and B are denoised one by one; a colour "
                "model (trained with data.color: rgb) would do better",
                sys.stderr,
            )
        level = image_level(path, image, args.sigma) if told else None
        return denoise(image, corrected(predict_at(level)), card, tiling, dtype)

    return run


def denoise_file(path: Path, target: Path, run, card: dict, args) -> tuple[int | None, str]:
    """Denoise one file into ``target`` with ``run``, atomically: its pixels, or None and the
    reason it was skipped (unreadable, or a format that cannot hold it)."""
    try:
        image = load_full(path, args.color, args.max_pixels)
    except READ_ERRORS as error:
        return None, f"{type(error).__name__}: {error}"
    chosen = output_format(path, args.format)
    problem = format_problem(image, chosen)
    if problem is not None:
        return None, problem
    check_size(path, image.shape[1:3], card, args.resize)
    warning = domain_warning(path, image.shape[1:3], card)
    if warning is not None:
        tqdm.write(warning, file=sys.stderr)
    result = run(path, image, result_dtype(image, chosen))
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, overwrite=args.overwrite) as temporary:
        save_image(temporary, result, chosen)
    return image.pixels, ""


def denoise_files(found, targets, run, card: dict, args, skipped: list[dict]) -> tuple[int, int]:
    """Denoise each file into its target with ``run``, in this process; unreadable files and
    those the chosen format cannot hold are added to ``skipped``. The images done, and their
    pixels."""
    pixels, done = 0, 0
    for (path, _), target in tqdm(
        list(zip(found, targets, strict=True)), desc="denoising", unit="image", disable=None
    ):
        count, reason = denoise_file(path, target, run, card, args)
        if count is None:
            skipped.append({"file": str(path), "reason": reason})
            continue
        pixels += count
        done += 1
    return done, pixels


def chosen_method(args: argparse.Namespace) -> str | None:
    """The classical method that MODEL names, or None for a model."""
    return str(args.model) if args.model is not None and is_classical_name(args.model) else None


def classical_card(method: str) -> dict:
    """What the checks read of a card, for a classical method: any size, any multiple."""
    return {"model": method, "input_shape": "any", "size_multiple": 1}


def runner(args: argparse.Namespace):
    """How each image is denoised, ``run(path, image, dtype)``, and the card it follows: the
    model's (loaded once), or a stand-in for a classical method."""
    method = chosen_method(args)
    if method is not None:
        return classical(method, args.sigma), classical_card(method)
    if args.model is None:
        return bundled_denoiser(args), BUNDLED_CARD
    path, card = read_card(model_path(args.model))
    return model_denoiser(path, card, args), card


# Said once when a grey image meets the bundled colour model, for want of a grey one: its channel,
# repeated, carries the same noise in R, G and B, which the colour model learnt as independent.
STAND_IN = (
    "warning: no bundled grey model in this install: grey images go to the colour model, which "
    "takes their noise, the same in R, G and B, for detail (on Set12 at sigma 15: 28.0 dB, BM3D "
    "told sigma 32.4); bm3d with --sigma does better on grey images"
)
# What the checks read of a card, with no MODEL: the bundled models take any size.
BUNDLED_CARD = {"model": "bundled", "input_shape": "any", "size_multiple": 1}


def bundled_denoiser(args: argparse.Namespace):
    """How each image is denoised with no MODEL: by the bundled model for its channels, each
    loaded at its first image and named once."""
    runs: dict[str, object] = {}

    def run(path: Path, image: FullImage, dtype: str) -> FullImage:
        name = for_channels(image.shape[-1])
        if name not in runs:
            folder, card = read_card(bundled_folder(name))
            tqdm.write(f"bundled model '{name}': {BUNDLED[name]}", sys.stderr)
            if image.shape[-1] == 1 and name == "color":
                tqdm.write(STAND_IN, sys.stderr)
            runs[name] = model_denoiser(folder, card, args)
        return runs[name](path, image, dtype)

    return run


# {settings: (run, card)}: a worker process of --workers or --dask loads its model once.
_RUNNERS: dict[str, tuple] = {}
# A Dask worker may run tasks in several threads: one file at a time (TensorFlow spreads each
# model call over the cores), and TensorFlow imported and the model loaded once.
_ONE_AT_A_TIME = threading.Lock()


def denoise_path(path: str, target: str, settings: argparse.Namespace) -> tuple[int | None, str]:
    """One file, as a worker of --workers or --dask denoises it: with the runner that this
    process built for ``settings`` at its first file, so the model is loaded once."""
    key = repr(sorted(vars(settings).items()))
    with _ONE_AT_A_TIME:
        if key not in _RUNNERS:
            _RUNNERS[key] = runner(settings)
        run, card = _RUNNERS[key]
        return denoise_file(Path(path), Path(target), run, card, settings)


# What a Dask worker runs for each file, by name.
WORK = "denoising.command.denoise_images:denoise_path"


def worker_settings(args: argparse.Namespace, method: str | None) -> argparse.Namespace:
    """The arguments as workers read them: the model by its absolute path; and replacing a
    result, since output_paths has refused every result that existed before this run, so what a
    retried file finds is what an attempt of this very run wrote."""
    settings = copy(args)
    if method is None and args.model is not None:
        settings.model = model_path(args.model).resolve()
    settings.overwrite = True
    return settings


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise UserError(f"-o {args.out_dir}: is a file; -o must be a folder (made if missing)")
    method = chosen_method(args)
    if args.model is None:
        card = BUNDLED_CARD
        for name in {for_channels(1), for_channels(3)}:  # None shipped: one line.
            check_sigma(read_card(bundled_folder(name))[1], args.sigma)
    elif method is None:
        _, card = read_card(model_path(args.model))
        check_sigma(card, args.sigma)
    else:
        classical(method, args.sigma)  # --sigma is checked before any file is listed.
        card = classical_card(method)
    found, skipped = list_inputs(args.inputs)
    if not found:
        raise UserError("no image files among the inputs")
    targets = output_paths(found, args.inputs, args.out_dir, args.overwrite, args.format)
    check_tta(args, method, card)
    started = time.perf_counter()
    if args.workers or args.dask:
        from denoising.command.cluster import denoise_on_cluster

        settings = worker_settings(args, method)
        done, pixels = denoise_on_cluster(found, targets, WORK, settings, args, skipped)
    else:
        run, card = runner(args)
        done, pixels = denoise_files(found, targets, run, card, args, skipped)
    seconds = time.perf_counter() - started
    for entry in skipped:
        print(f"skipped {entry['file']}: {entry['reason']}", file=sys.stderr)
    print(
        f"denoised {done} images, {pixels / 1e6:.2f} megapixels, in {seconds:.1f} s "
        f"({pixels / 1e6 / max(seconds, 1e-9):.2f} megapixels/s); skipped {len(skipped)} files; "
        f"results in {args.out_dir}",
        file=sys.stderr,
    )
    if not done:
        raise UserError("no image could be read; nothing was written")


def entry_point() -> None:
    """The ``denoise-images`` console script."""
    run_stage(main)


if __name__ == "__main__":
    entry_point()
