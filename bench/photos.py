"""Benchmark: the photo recipe against BM3D on full images, as the DnCNN paper measures.

    python bench/photos.py DATA_DIR --sigma 25 [--sigma 50] [--minutes 60 | --epochs N]
                           [--no-clip] [--no-tta] [--keep OUT_DIR] [--color auto|gray|rgb]
                           [--gray-models DIR] [-S train.mixed_precision=bfloat16 ...]

DATA_DIR holds train/ and test/: Train400 and Set12 (grey), as in ../shared/benchmarks/photos,
or CBSD432 and Kodak24 (colour), as in ../shared/benchmarks/color. Colour test images make it
the colour recipe: data.color rgb, noise independent per channel, and CBM3D in BM3D's place. For
each sigma (on the 0-255 scale), in a temporary copy of the pipeline (the workspace is left as
it is), the photo recipe in bench/photo_recipe.yaml trains one model on DATA_DIR/train through
`dvc repro`: native-resolution patches, fresh noise, flips and rotations, L1 loss, cosine decay.
The training budget in minutes becomes a number of epochs, from the time of a first 1-epoch run,
so the training itself stays reproducible (``--epochs`` gives the number instead). Then every
full test image gets seeded noise, clipped to [0, 1] and stored as an 8-bit PNG (``--no-clip``:
not clipped, stored as a float32 TIFF, and the training noise is not clipped either, as in the
DnCNN paper's table); `denoise-images` denoises those files at full size, BM3D (told sigma)
denoises the very same files, and both are scored against the clean images (PSNR and SSIM with
data range 1, averaged over images), the model once more with `--tta` (the 8 flips and
rotations averaged). One table per sigma is printed. ``-S section.key=value`` sets a param over
the recipe, as `dvc exp run -S` does: the accelerator params, for example.
"""

import argparse
import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.project import ENV, copy_pipeline, dvc_repro, fit_timing, machine  # noqa: E402
from denoising.score.metrics import quality  # noqa: E402

RECIPE = Path(__file__).with_name("photo_recipe.yaml")


def level_of(sigma: float) -> float:
    """The noise level on the [0, 1] scale, rounded so that DVC's folder names stay short."""
    return round(sigma / 255, 4)


def overrides(settings: list[str]) -> dict:
    """``section.key=value`` settings (values read as YAML) as a recipe-shaped dict."""
    result: dict = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        *sections, name = key.split(".")
        if not sections or not _:
            sys.exit(f"-S {setting}: expected section.key=value, e.g. train.jit_compile=true")
        node = result
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = yaml.safe_load(value)
    return result


def merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` laid over it, section by section."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def train(
    data: Path, sigma: float, minutes: float, work: Path, settings: dict, epochs: int | None
) -> tuple[Path, float, int]:
    """Train the recipe's model (with ``settings`` over it) at ``sigma`` within ``minutes``,
    or for ``epochs`` when given; its folder, the fitting minutes, and the epochs run."""
    recipe = merge(yaml.safe_load(RECIPE.read_text()), settings)
    model, level = recipe["train"]["models"][0], level_of(sigma)
    project = work / f"project-{sigma:g}"

    def update(params: dict, epochs: int = 1) -> None:
        params.update(merge(params, recipe))
        params["data"]["dir"] = str(data.resolve())
        params["noise"]["levels"] = [level]
        params["models"][model]["epochs"] = epochs
        params["apply"]["model"] = f"{model}/{level}"

    copy_pipeline(project, update)
    stage, folder = f"train@{model}-{level}", project / f"models/{model}/{level}"
    if epochs is None:
        dvc_repro(project, stage)
        first = fit_timing(project, model, str(level))["fit_seconds"]
        epochs = max(1, int(minutes * 60 // first))
        print(f"sigma {sigma:g}: 1 epoch took {first:.0f} s, so {epochs} epochs", flush=True)
        if epochs == 1:  # the timing run was the whole training
            return folder, first / 60, epochs
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"][model]["epochs"] = epochs
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc_repro(project, stage)
    return folder, fit_timing(project, model, str(level))["fit_seconds"] / 60, epochs


def is_colour(test: Path) -> bool:
    """Whether the test images are colour: the first one has R, G and B."""
    first = next(iter(sorted(test.glob("*.png"))), None)
    return first is not None and Image.open(first).mode not in ("1", "L", "LA", "I;16", "I", "F")


def noisy_copies(
    test: Path, sigma: float, out: Path, clip: bool, colour: bool = False
) -> list[tuple[Path, Path]]:
    """Seeded noisy copies of every test image (grey, or with ``colour`` R, G and B, with noise
    independent per channel): clipped, as 8-bit PNGs, or unclipped, as float32 TIFFs. The same
    noise either way. (clean, noisy) paths."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for index, clean in enumerate(sorted(test.glob("*.png"))):
        pixels = load(clean, colour)
        pixels = pixels if colour else pixels[..., 0]
        rng = np.random.default_rng([int(sigma * 100), index])
        noisy = pixels + sigma / 255 * rng.standard_normal(pixels.shape, dtype=np.float32)
        target = out / (clean.name if clip else f"{clean.stem}.tif")
        save(target, np.clip(noisy, 0, 1) if clip else noisy)
        pairs.append((clean, target))
    return pairs


def save(path: Path, pixels: np.ndarray) -> None:
    """Grey (height, width) or colour (height, width, 3) ``pixels`` as an 8-bit PNG, or as a
    float32 TIFF (kept as they are) for .tif."""
    if path.suffix == ".tif":
        colour = "rgb" if pixels.ndim == 3 else "minisblack"
        tifffile.imwrite(path, pixels.astype(np.float32), photometric=colour)
    else:
        Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)


def load(path: Path, colour: bool = False) -> np.ndarray:
    """A PNG scaled to [0, 1], grey or with ``colour`` R, G, B, or a float32 TIFF as stored:
    (height, width, channels)."""
    if path.suffix == ".tif":
        pixels = tifffile.imread(path).astype(np.float32)
        return pixels if pixels.ndim == 3 else pixels[..., None]
    if colour:
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32)[..., None] / 255


def bm3d_file(item: tuple[Path, Path, float, bool]) -> float:
    """Denoise one noisy file with BM3D (told sigma; with ``colour``, CBM3D) into ``out``; the
    seconds it took."""
    import bm3d

    noisy_path, out_path, sigma, colour = item
    noisy = load(noisy_path, colour)
    started = time.perf_counter()
    if colour:
        result = bm3d.bm3d_rgb(noisy, sigma_psd=sigma / 255)
    else:
        result = bm3d.bm3d(noisy[..., 0], sigma_psd=sigma / 255)
    seconds = time.perf_counter() - started
    save(out_path, np.clip(result, 0, 1))
    return seconds


def denoise_folder(
    model_dir: Path | str | None, noisy_dir: Path, out: Path, *options: str
) -> float:
    """Denoise every file of ``noisy_dir`` into ``out`` with `denoise-images` and ``options``
    (``model_dir`` None: with no model, the bundled ones); the seconds the whole command took."""
    started = time.perf_counter()
    model = [] if model_dir is None else [model_dir]
    command = [Path(sys.executable).parent / "denoise-images", *model, noisy_dir, "-o", out]
    command += options
    result = subprocess.run([*map(str, command)], env=ENV, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"denoise-images failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def bm3d_folder(
    pairs: list[tuple[Path, Path]], sigma: float | list[float], out: Path, colour: bool = False
) -> float:
    """BM3D (told sigma, or each file its own from a list; CBM3D for ``colour``) on every noisy
    file of ``pairs``, into ``out``, on two processes; the seconds of the calls, summed."""
    out.mkdir(parents=True)
    sigmas = sigma if isinstance(sigma, list) else [sigma] * len(pairs)
    items = [
        (noisy, out / noisy.name, s, colour) for (_, noisy), s in zip(pairs, sigmas, strict=True)
    ]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        return sum(pool.map(bm3d_file, items))


def scores(
    pairs: list[tuple[Path, Path]], folder: Path | None, colour: bool = False
) -> tuple[float, float]:
    """Mean PSNR and SSIM over the images (colour: over R, G and B): the noisy files
    themselves, or ``folder``'s."""
    values = []
    for clean, noisy in pairs:
        estimate = load(noisy if folder is None else folder / noisy.name, colour)
        reference = load(clean, colour)
        score = quality(reference[None], estimate[None])
        values.append((score["psnr"], score["ssim"]))
    return tuple(float(np.mean(column)) for column in zip(*values, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a folder with train/ and test/")
    parser.add_argument("--sigma", type=float, action="append", required=True)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=60.0, help="training budget per sigma")
    budget.add_argument(
        "--epochs",
        type=int,
        help="train this many epochs instead of timing a first epoch against --minutes (the "
        "same model however busy the machine is)",
    )
    parser.add_argument("--keep", type=Path, help="copy each trained model's folder here")
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="score the model with --tta too (8x its time); --no-tta: without",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "gray", "rgb"),
        default="auto",
        help="train and score in colour (data.color rgb, CBM3D) or grey; auto: colour if the "
        "test images are",
    )
    parser.add_argument(
        "--gray-models",
        type=Path,
        help="a --keep folder of the grey recipe's models (<model>-sigma<S>): each is scored too, "
        "run by denoise-images on R, G and B one by one",
    )
    parser.add_argument(
        "--clip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="clip the noisy images to [0, 1] (8-bit PNGs); --no-clip: float32 TIFFs, and "
        "training noise unclipped too",
    )
    parser.add_argument(
        "-S",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a param over the recipe, e.g. -S train.mixed_precision=bfloat16",
    )
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: it must be 1 or more")
    colour = args.color == "rgb" or (args.color == "auto" and is_colour(args.data / "test"))
    chosen = {"noise": {"clip": args.clip}, "data": {"color": "rgb" if colour else "gray"}}
    settings = merge(chosen, overrides(args.settings))
    work = Path(tempfile.mkdtemp(prefix="photos-bench-"))
    print(f"# {machine()}; data: {args.data}; work: {work}; settings: {settings}", flush=True)
    for sigma in args.sigma:
        model_dir, fit_minutes, epochs = train(
            args.data, sigma, args.minutes, work, settings, args.epochs
        )
        name = model_dir.parent.name
        if args.keep:
            shutil.copytree(model_dir, args.keep / f"{name}-sigma{sigma:g}", dirs_exist_ok=True)
        pairs = noisy_copies(
            args.data / "test", sigma, work / f"noisy-{sigma:g}", args.clip, colour
        )
        megapixels = sum(np.prod(load(noisy).shape[:2]) for _, noisy in pairs) / 1e6
        model_seconds = denoise_folder(
            model_dir, work / f"noisy-{sigma:g}", work / f"{name}-{sigma:g}"
        )
        if args.tta:
            tta_seconds = denoise_folder(
                model_dir, work / f"noisy-{sigma:g}", work / f"{name}-tta-{sigma:g}", "--tta"
            )
        bm3d_seconds = bm3d_folder(pairs, sigma, work / f"bm3d-{sigma:g}", colour)
        rows = [
            ("noisy", scores(pairs, None, colour), ""),
            (
                name,
                scores(pairs, work / f"{name}-{sigma:g}", colour),
                f"{fit_minutes:5.1f} min training, {epochs} epochs; "
                f"{model_seconds / megapixels:.1f} s/MP (whole command)",
            ),
            (
                "cbm3d" if colour else "bm3d",
                scores(pairs, work / f"bm3d-{sigma:g}", colour),
                f"{bm3d_seconds / megapixels:.1f} s/MP (one core)",
            ),
        ]
        if args.tta:
            rows.insert(
                2,
                (
                    f"{name}+tta",
                    scores(pairs, work / f"{name}-tta-{sigma:g}", colour),
                    f"the same model, 8 flips and rotations averaged; "
                    f"{tta_seconds / megapixels:.1f} s/MP",
                ),
            )
        for grey in sorted(args.gray_models.glob(f"*-sigma{sigma:g}")) if args.gray_models else []:
            out = work / f"{grey.name}-per-channel"
            seconds = denoise_folder(grey, work / f"noisy-{sigma:g}", out)
            note = f"the grey model, R, G and B one by one; {seconds / megapixels:.1f} s/MP"
            rows.append((f"{grey.name.split('-sigma')[0]} grey", scores(pairs, out, colour), note))
        kind = "clipped 8-bit noisy PNGs" if args.clip else "unclipped float32 noisy TIFFs"
        kind = f"{'colour' if colour else 'grey'}, {kind}"
        print(f"\nsigma {sigma:g} (0-255 scale), {kind}, {len(pairs)} full images")
        print(f"{'method':<13} {'PSNR dB':>8} {'SSIM':>7}   time")
        for method, (p, s), note in rows:
            print(f"{method:<13} {p:>8.2f} {s:>7.3f}   {note}")
        print(json.dumps({"sigma": sigma, "scores": {m: v for m, v, _ in rows}}), flush=True)


if __name__ == "__main__":
    main()
