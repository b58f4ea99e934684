"""Benchmark: training from noisy images alone (Noise2Void, N2V2, Neighbor2Neighbor) against
training with clean targets, Noise2Noise, the median filter and BM3D, with the same model.

    python bench/self_supervised.py [--data data/sample] [--level 0.5 ...] [--epochs N]
        [--clip | --both] [-S section.key=value ...]
    python bench/self_supervised.py --photos DATA_DIR --sigma 25 [--minutes M] [--clip]
    python bench/self_supervised.py --real DATA_DIR [--epochs N] [--only clean n2v2 ne2ne]

In a temporary copy of the pipeline (the workspace is left as it is), one model is trained per
training target through `dvc repro`, and scored by the pipeline's own compare stage, BM3D (told
the level) beside it:
- clean: clean targets, fresh noise every epoch (the unet's default recipe);
- clean-fixed: clean targets, the noisy copies made once (what a user with pairs has);
- noisy: Noise2Noise, one fixed second noisy copy per image;
- n2v, n2v2 (with N2V2's U-Net: no top skip, blur-pool) and ne2ne: from the fixed noisy
  training images alone; the clean training images are never read.

The noise is not clipped to [0, 1] unless --clip is given (--both: each level unclipped and
clipped, in a project of its own, and a table of them side by side at the end): the
self-supervised targets (and Noise2Noise) learn the mean of the noisy value, and clipping moves
that mean away from the clean value wherever the image is near black or white (at level 0.5 on
black digits' background, by about 0.2). Their cards then ask for the inverse of the
clipped-Gaussian mean (Foi 2009, denoising/clipping.py), which the denoise stage applies; the
table's "uncorrected" column is the PSNR before it. Unclipped noise under binary cross-entropy
(the unet's loss) is corrected too: the loss counts targets outside [0, 1] as 0 or 1
(denoising/train/losses.py), so the model learns the clipped mean there as well.

With --photos, the model is trained on native-resolution patches of DATA_DIR/train (Train400)
for about --minutes each (epochs from a 1-epoch timing run), and scored on the full DATA_DIR/test
images (Set12): seeded noisy 8-bit PNGs, denoised with `denoise-images`, BM3D on the same files,
as bench/photos.py does.

With --real, DATA_DIR holds real noisy images (train/, test/, test_clean/, and train_clean/ for
the clean variant: PolyU's layout) and the pipeline's real-noise route runs (`noise.type: real`,
colour patches): the noisy training images are what the self-supervised variants learn from, and
where they clip, the card asks for the clipped mean's inverse at the estimated sigma; its
"uncorrected" column is the PSNR before it.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.photos import (  # noqa: E402
    bm3d_folder,
    denoise_folder,
    level_of,
    merge,
    noisy_copies,
    overrides,
    scores,
)
from bench.project import copy_pipeline, dvc_repro, fit_timing, machine  # noqa: E402
from denoising.names import REAL, level_name  # noqa: E402

N2V2_UNET = {"top_skip": False, "pool": "blur"}
VARIANTS = {
    "clean": ({"target": "clean"}, {"fresh_noise": True}),
    "clean-fixed": ({"target": "clean"}, {"fresh_noise": False}),
    "noisy": ({"target": "noisy"}, {"fresh_noise": False}),
    "n2v": ({"target": "n2v"}, {}),
    "n2v2": ({"target": "n2v2"}, N2V2_UNET),
    "ne2ne": ({"target": "ne2ne"}, {}),
}


def set_params(project: Path, train: dict, unet: dict) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"].update(train)
    params["models"]["unet"].update(unet)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(
    work: Path,
    data: Path,
    level: float | str,
    photos: bool,
    epochs: int | None,
    clip: bool,
    settings: dict | None = None,
) -> Path:
    """A copy of the pipeline for the bench: one unet at ``level``, BM3D beside it, and
    ``settings`` (``-S``, recipe-shaped) over everything else."""
    project = work / "project"

    def update(params: dict) -> None:
        params["data"]["dir"] = str(data.resolve())
        params["noise"].update(levels=[level], clip=clip)
        params["train"].update(models=["unet"], blind_models=[])
        params["baselines"].update(methods=["median", "bm3d"])
        params["visualize"].update(baselines=["bm3d"])
        params["apply"]["model"] = f"unet/{level}"
        if epochs:
            params["models"]["unet"]["epochs"] = epochs
        if photos:
            params["data"].update(mode="patches", patch_size=64, patches_per_image=16)
            params["models"]["unet"].update(batch_size=16, augment=True, schedule="cosine")
            params["baselines"]["max_images"] = 12
        if level == REAL:  # Real noisy colour photos: the files are the noisy images.
            params["noise"].update(type=REAL)
            params["data"].update(color="rgb")
        merged = merge(params, settings or {})
        params.clear()
        params.update(merged)

    copy_pipeline(project, update)
    return project


def run_variant(
    project: Path, name: str, level: float | str, minutes: float | None, figures: Path
) -> dict:
    """Train and score one variant; its scores, BM3D's, and the fitting minutes and epochs. Its
    figure (visualize@level) is copied to ``figures/<name>.png``."""
    train, unet = VARIANTS[name]
    base = {"top_skip": True, "pool": "max"}
    set_params(project, train, {**base, **unet})
    stage, folder = f"train@unet-{level}", level_name(level)
    if minutes:
        set_params(project, {}, {"epochs": 1})
        dvc_repro(project, stage)
        first = fit_timing(project, "unet", folder)["fit_seconds"]
        set_params(project, {}, {"epochs": max(1, int(minutes * 60 // first))})
    dvc_repro(project, f"compare@{level}", f"visualize@{level}")
    figures.mkdir(exist_ok=True)
    shutil.copy(project / f"plots/figures/{level}_noise.png", figures / f"{name}.png")
    card = json.loads((project / f"models/unet/{level}/card.json").read_text())
    compared = json.loads((project / f"metrics/compare/{level}.json").read_text())
    denoised = json.loads((project / f"metrics/denoise/unet/{level}.json").read_text())
    return {
        "scores": compared,
        # Noisy targets under clipped noise: the PSNR before the clipped mean's inverse.
        "uncorrected": denoised.get("psnr_uncorrected"),
        "minutes": fit_timing(project, "unet", folder)["fit_seconds"] / 60,
        "epochs": card["epochs_run"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data/sample")
    parser.add_argument(
        "--level", type=float, nargs="+", default=[0.5], help="noise levels on [0, 1]"
    )
    parser.add_argument(
        "--epochs", type=int, help="epochs for every variant (photos: not minutes)"
    )
    parser.add_argument("--photos", type=Path, help="a folder with train/ and test/ photos")
    parser.add_argument("--sigma", type=float, default=25.0, help="photos: on the 0-255 scale")
    parser.add_argument("--minutes", type=float, default=5.0, help="photos: per variant")
    parser.add_argument("--clip", action="store_true", help="clip the noisy images to [0, 1]")
    parser.add_argument(
        "--real", type=Path, help="a folder of real noisy photos with clean test references"
    )
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument(
        "-S",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a param over every variant's, e.g. -S train.mask_fraction=0.05 (the variants' "
        "own train.target and unet switches still win)",
    )
    parser.add_argument(
        "--both", action="store_true", help="sample: unclipped and clipped, side by side"
    )
    args = parser.parse_args()
    photos = args.photos is not None or args.real is not None
    data = args.real or args.photos or args.data
    if args.real and not (data / "test_clean").is_dir():
        parser.error(f"--real {data}: no test_clean/ folder there to score against")
    if photos and (args.both or len(args.level) > 1):
        parser.error("--both and several --level values are for the sample (not --photos, --real)")
    settings = overrides(args.settings)
    if photos:
        level = REAL if args.real else level_of(args.sigma)
        # Photos are scored on clipped 8-bit files, as bench/photos.py.
        run(args, data, level, True, settings)
        return
    runs = {}
    for level in args.level:
        for clip in [False, True] if args.both else [args.clip]:
            runs[level, clip] = run(args, data, level, clip, settings)
    if len(runs) > 1:
        print_side_by_side(runs)


def run(args, data: Path, level: float | str, clip: bool, settings: dict) -> dict:
    """Every variant at one level, clipped or not, in a project of its own; its table printed.
    The results by variant name."""
    photos = args.photos is not None or args.real is not None
    work = Path(tempfile.mkdtemp(prefix="self-supervised-bench-"))
    clipped = "real noise" if args.real else "clipped" if clip else "not clipped"
    where = f"data: {data}; level {level_name(level)}, {clipped}; work: {work}"
    print(f"# {machine()}; {where}", flush=True)
    if settings:
        print(f"# settings: {settings}", flush=True)
    project = make_project(work, data, level, photos, args.epochs, clip, settings)
    if photos and not args.real:
        pairs = noisy_copies(data / "test", args.sigma, work / "noisy-input", clip=True)
        bm3d_folder(pairs, args.sigma, work / "bm3d")
        full = {"(noisy)": scores(pairs, None), "bm3d": scores(pairs, work / "bm3d")}
    results = {}
    for name in args.only:
        started = time.perf_counter()
        budget = args.minutes if photos and not args.epochs else None
        results[name] = run_variant(project, name, level, budget, work / "figures")
        if photos and not args.real:
            denoise_folder(project / f"models/unet/{level}", work / "noisy-input", work / name)
            full[name] = scores(pairs, work / name)
            print(f"{name:<12} full Set12 images: {full[name][0]:.2f} dB", flush=True)
        unet = results[name]["scores"]["unet"]
        print(
            f"{name:<12} unet {unet['psnr']:6.2f} dB  SSIM {unet['ssim']:.3f}"
            f"  ({results[name]['minutes']:.1f} min fit, {results[name]['epochs']} epochs,"
            f" {time.perf_counter() - started:.0f} s in all)",
            flush=True,
        )
    print_table(results, level, photos)
    print(f"figures: {work / 'figures'}")
    if photos and not args.real:
        print(f"\nsigma {args.sigma:g}, clipped 8-bit noisy PNGs, full {data / 'test'} images")
        print(f"{'target':<12} {'PSNR dB':>8} {'SSIM':>7}")
        for name, (psnr, ssim) in full.items():
            print(f"{name:<12} {psnr:>8.2f} {ssim:>7.3f}")
        print(json.dumps(full))
    return results


def print_side_by_side(runs: dict) -> None:
    """PSNR of every variant and baseline at every level, unclipped and clipped (where the card
    asked for the correction: after it, and before it in brackets), with the fitting minutes."""
    columns = [f"{level:g} {'clipped' if clip else 'unclipped'}" for level, clip in runs]
    print("\nPSNR dB (corrected: after the correction, before it in brackets); fit minutes")
    print(f"{'target':<12}" + "".join(f"{column:>22}" for column in columns))
    first = next(iter(runs.values()))
    for name in [*first, "median", "bm3d"]:
        cells = []
        for results in runs.values():
            if name in results:
                result = results[name]
                psnr, before = result["scores"]["unet"]["psnr"], result["uncorrected"]
                cell = f"{psnr:.2f}" + (f" ({before:.2f})" if before is not None else "")
                cell += f" {result['minutes']:.1f}m"
            else:  # A baseline: the same in every variant's compare.
                scored = next(iter(results.values()))["scores"]
                cell = f"{scored[name]['psnr']:.2f}" if name in scored else "-"
            cells.append(f"{cell:>22}")
        print(f"{name:<12}" + "".join(cells))


def print_table(results: dict, level: float | str, photos: bool) -> None:
    first = next(iter(results.values()))["scores"]
    where = f"{first['images']} test images" + (" (central crops)" if photos else "")
    name = level_name(level)
    print(f"\nnoise level {name}, unet, scored by compare@{name} on {where}")
    print(f"{'target':<12} {'PSNR dB':>8} {'SSIM':>7}   {'uncorrected':>11}   training")
    noisy = first["noisy"]
    print(f"{'(noisy)':<12} {noisy['psnr']:>8.2f} {noisy['ssim']:>7.3f}   {'':>11}")
    for name, result in results.items():
        unet = result["scores"]["unet"]
        note = f"{result['minutes']:.1f} min, {result['epochs']} epochs"
        before = result["uncorrected"]
        before = f"{before:>11.2f}" if before is not None else f"{'-':>11}"
        print(f"{name:<12} {unet['psnr']:>8.2f} {unet['ssim']:>7.3f}   {before}   {note}")
    told = "told the estimated sigma" if level == REAL else "told sigma"
    notes = {"median": "3x3 window", "bm3d": told}
    for method, note in notes.items():
        if method not in first:  # left out with -S baselines.methods=...
            continue
        row = first[method]
        print(f"{method:<12} {row['psnr']:>8.2f} {row['ssim']:>7.3f}   {'':>11}   {note}")
    print(json.dumps({name: r["scores"]["unet"] for name, r in results.items()}))


if __name__ == "__main__":
    main()
