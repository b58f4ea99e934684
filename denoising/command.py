"""denoise-images: apply a trained model to your own images, at their full size.

    denoise-images MODEL INPUT... -o OUTDIR [--tile 256 --overlap 32] [--batch 8]

MODEL is a model.keras file (or the folder holding it) with the card.json that the train stage
writes beside it. INPUT is any mix of image files and folders (read recursively). Each result is
a PNG of the input's size under OUTDIR, at the input's path relative to its folder.
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from denoising.cli import run_stage
from denoising.errors import UserError
from denoising.files import atomic_path, load_json
from denoising.images import READ_ERRORS, find_files, load_full, save_png, skip_reason
from denoising.tiles import Tiling, predict_tiled, receptive_radius


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="denoise-images",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("model", type=Path, help="model.keras, or the folder that holds it")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="files or folders")
    parser.add_argument("-o", "--out-dir", type=Path, required=True)
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels (256)")
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (32)")
    parser.add_argument("--batch", type=int, default=8, help="tiles per model call (8)")
    parser.add_argument(
        "--color",
        choices=("per-channel", "gray"),
        default="per-channel",
        help="colour images: denoise R, G and B each (per-channel), or convert to grey first",
    )
    parser.add_argument(
        "--resize",
        nargs="?",
        const="true",
        default="false",
        choices=("true", "false"),
        help="for a fixed-size (dense) model: resize to its size, denoise, resize back",
    )
    parser.add_argument("--max-pixels", type=int, default=200_000_000)
    args = parser.parse_args(argv)
    args.resize = args.resize == "true"  # "--resize false" too, for params templated by DVC
    if args.tile < 8:
        parser.error(f"--tile: {args.tile} is too small; it must be at least 8 pixels")
    if not 0 <= args.overlap <= args.tile // 2:
        parser.error(f"--overlap: {args.overlap} must be >= 0 and at most half of --tile")
    if args.batch < 1:
        parser.error(f"--batch: {args.batch} must be at least 1")
    return args


def read_card(model: Path) -> tuple[Path, dict]:
    """The model file and its card; a model without a card is refused, since nothing else says
    what input it takes."""
    path = model / "model.keras" if model.is_dir() else model
    if not path.is_file():
        raise UserError(f"{model}: no model file here; give a model.keras or its folder")
    card_path = path.with_name("card.json")
    if not card_path.is_file():
        raise UserError(
            f"{path}: no card.json beside it; denoise-images only runs models trained by this "
            "pipeline, whose card says what input they take"
        )
    card = load_json(card_path)
    if not {"model", "input_shape", "size_multiple"} <= card.keys():
        raise UserError(f"{card_path}: not a model card (needs model, input_shape, size_multiple)")
    return path, card


def list_inputs(inputs: list[Path]) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """(file, path relative to its input) for every image, and the files skipped by name."""
    found, skipped = [], []
    for item in inputs:
        if item.is_file():
            pairs = [(item, Path(item.name))]
        elif item.is_dir():
            pairs = [(path, path.relative_to(item)) for path in find_files(item)]
        else:
            raise UserError(f"{item}: no such file or folder")
        for path, relative in pairs:
            reason = skip_reason(path)
            if reason is None:
                found.append((path, relative))
            else:
                skipped.append({"file": str(path), "reason": reason})
    return found, skipped


def output_paths(found: list[tuple[Path, Path]], inputs: list[Path], out_dir: Path) -> list[Path]:
    """Where each result goes: OUTDIR/relative path, as .png. Refuses any layout in which an
    output could overwrite an input, or land where a later run would read it as input."""
    resolved = out_dir.resolve()
    for item in inputs:
        if item.is_dir() and resolved.is_relative_to(item.resolve()):
            raise UserError(f"-o {out_dir}: it is inside input folder {item}; choose another")
    targets = [out_dir / relative.with_suffix(".png") for _, relative in found]
    # Two inputs that differ only in extension (a.jpg, a.png) keep their extension in the name.
    # (Counted once: a count per target would take quadratic time on a folder of thousands.)
    uses = Counter(targets)
    targets = [
        out_dir / relative.with_name(relative.name + ".png") if uses[target] > 1 else target
        for (_, relative), target in zip(found, targets, strict=True)
    ]
    sources = {path.resolve() for path, _ in found}
    for target in targets:
        if target.resolve() in sources:
            raise UserError(f"{target}: would overwrite an input image; choose another -o")
    return targets


def plan_tiling(predict, card: dict, args: argparse.Namespace) -> Tiling:
    """Tiles that reproduce the untiled output: the margin each tile ignores must cover the
    model's receptive field radius, so a too small --overlap (or --tile) is raised, with a note."""
    margin = receptive_radius(predict)
    overlap = max(args.overlap, 2 * margin + 8)
    tile = max(args.tile, 2 * overlap)
    if (overlap, tile) != (args.overlap, args.tile):
        print(
            f"note: model '{card['model']}' reaches {margin} pixels around each pixel, so tiles "
            f"are {tile} pixels with an overlap of {overlap}, to match the untiled result",
            file=sys.stderr,
        )
    return Tiling(tile, overlap, margin, card["size_multiple"], args.batch)


def denoise(image: np.ndarray, predict, card: dict, tiling: Tiling | None) -> np.ndarray:
    """Denoise one (height, width, channels) image, channel by channel: in tiles, or for a
    fixed-size model (``tiling`` None) resized to its size and back."""
    results = []
    for c in range(image.shape[-1]):
        channel = image[..., c : c + 1]
        if tiling is None:
            results.append(denoise_fixed(channel, predict, card["input_shape"][:2]))
        else:
            results.append(predict_tiled(predict, channel, tiling))
    return np.concatenate(results, axis=-1)


def denoise_fixed(channel: np.ndarray, predict, shape: list[int]) -> np.ndarray:
    """A fixed-size model: resize the channel to its size, denoise, resize back (--resize)."""
    height, width = channel.shape[:2]
    small = Image.fromarray(channel[..., 0]).resize(shape[::-1], Image.Resampling.BICUBIC)
    output = predict(np.asarray(small, dtype=np.float32)[np.newaxis, ..., np.newaxis])[0, ..., 0]
    large = Image.fromarray(output).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(large, dtype=np.float32)[..., np.newaxis]


def check_size(path: Path, image: np.ndarray, card: dict, resize: bool) -> None:
    """A fixed-size model takes only its training size, unless --resize accepts the resizing."""
    shape = card["input_shape"]
    if shape == "any" or resize or list(image.shape[:2]) == shape[:2]:
        return
    raise UserError(
        f"{path}: {image.shape[1]}x{image.shape[0]}, but model '{card['model']}' only takes "
        f"{shape[1]}x{shape[0]} images (its training size); pass --resize to resize to that "
        "size and back, or use a convolutional model (conv, dncnn, unet) for any size"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model_path, card = read_card(args.model)
    found, skipped = list_inputs(args.inputs)
    targets = output_paths(found, args.inputs, args.out_dir)
    if not found:
        raise UserError("no image files among the inputs")

    import keras  # Imported late, so that argument errors show before TensorFlow starts.

    model = keras.saving.load_model(model_path, compile=False, safe_mode=True)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(batch))

    tiling = None if card["input_shape"] != "any" else plan_tiling(predict, card, args)
    started, pixels, done = time.perf_counter(), 0, 0
    for (path, _), target in tqdm(
        list(zip(found, targets, strict=True)), desc="denoising", unit="image", disable=None
    ):
        try:
            image = load_full(path, args.color, args.max_pixels)
        except READ_ERRORS as error:
            skipped.append({"file": str(path), "reason": f"{type(error).__name__}: {error}"})
            continue
        check_size(path, image.channels, card, args.resize)
        image.channels = denoise(image.channels, predict, card, tiling)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            save_png(temporary, image)
        pixels += image.channels.shape[0] * image.channels.shape[1]
        done += 1
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
