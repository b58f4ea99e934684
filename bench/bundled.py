"""Benchmark: the bundled models, blind, against BM3D/CBM3D told the true sigma, and on real
camera noise (PolyU) against CBM3D.

    python bench/bundled.py [--gray-data DIR] [--color-data DIR] [--polyu DIR]
                            [--sigma 15 --sigma 25 --sigma 50] [--max-images N] [--record]
                            [--sweep 2,3,4,5,6,8,10,12,15,20]

Synthetic noise: each test image of --gray-data (Set12, ../shared/benchmarks/photos/test) and
--color-data (Kodak24, ../shared/benchmarks/color/test) gets seeded Gaussian noise of each sigma
(0-255 scale), clipped and stored as an 8-bit PNG, as bench/photos.py makes them. `denoise-images`
with no model denoises them: it picks the bundled model for each image's channels and tells it
the noise level it estimates from the image (it is not told sigma). BM3D (grey) or CBM3D
(colour), told the true sigma, denoises the very same files. On the colour images the bundled
grey model, where it ships, runs on R, G and B one by one too: what the colour model buys.

Real noise, --polyu (../shared/benchmarks/real/polyu): its test/ shots against test_clean/, the
means of many shots. Rows: the noisy shots; CBM3D told scikit-image's estimate of each image's
sigma (what a user can do); CBM3D at the one sigma of --sweep that scores best over the test
scenes (an upper bound no user could set, labelled so); the bundled colour model, blind (the
level estimated); and the bundled camera-noise and real-noise models, if this install holds
them, each also with --tta (8 flips and rotations averaged). PSNR and SSIM
(data range 1, over R, G and B) are averaged over images. One table is printed; --record writes
each bundled model's scores into its card. --figures DIR writes, for a few RNI15 photos (real
noise, no references), crops at full resolution of the noisy photo, the bundled model's result
and CBM3D's at the estimated sigma, side by side. Everything else runs in a temporary folder.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.photos import bm3d_folder, denoise_folder, load, noisy_copies, save, scores  # noqa: E402
from bench.project import machine  # noqa: E402
from denoising.bundled import HERE, for_channels, shipped  # noqa: E402

SHARED = REPO.parent / "shared" / "benchmarks"
# The bundled models for camera noise, used only when named: each one's note in the PolyU table.
CAMERA_MODELS = {"camera": "blind, synthetic camera noise only", "real": "real camera noise"}


def limited(folder: Path, count: int | None, out: Path) -> Path:
    """``folder``'s first ``count`` PNG images (all if None), as a folder."""
    out.mkdir(parents=True)
    for path in sorted(folder.glob("*.png"))[:count]:
        (out / path.name).symlink_to(path.resolve())
    return out


def synthetic(
    test: Path, colour: bool, sigma: float, work: Path, full: Path | None = None
) -> list[tuple]:
    """Rows (method, (PSNR, SSIM), note) for the bundled model and (C)BM3D told ``sigma``; on
    colour images, for the bundled grey model too, channel by channel; and for ``full``, a model
    folder (the bundled model's float32 original), if given."""
    pairs = noisy_copies(test, sigma, work / "noisy", clip=True, colour=colour)
    denoise_folder(None, work / "noisy", work / "bundled")
    bm3d_folder(pairs, sigma, work / "bm3d", colour)
    name = for_channels(3 if colour else 1)
    rows = [
        ("noisy", scores(pairs, None, colour), ""),
        (f"bundled {name}", scores(pairs, work / "bundled", colour), "blind: sigma estimated"),
        ("cbm3d" if colour else "bm3d", scores(pairs, work / "bm3d", colour), "told sigma"),
    ]
    if colour and "gray" in shipped():  # What a colour model buys: the grey one per channel.
        denoise_folder("gray", work / "noisy", work / "gray")
        note = "the grey model on R, G and B one by one, blind"
        rows.append(("bundled gray", scores(pairs, work / "gray", colour), note))
    if full is not None:
        denoise_folder(full, work / "noisy", work / "float32")
        note = f"{full}, float32 weights, blind"
        rows.append(("float32", scores(pairs, work / "float32", colour), note))
    return rows


def estimate(path: Path) -> float:
    """scikit-image's estimate of an image's Gaussian sigma, averaged over R, G and B (0-255)."""
    from skimage.restoration import estimate_sigma

    return 255 * float(estimate_sigma(load(path, True), channel_axis=-1, average_sigmas=True))


def as_png(folder: Path, out: Path, count: int | None) -> list[Path]:
    """``folder``'s images (PolyU's JPEGs) decoded once and stored as PNGs, so that no result
    is compressed again; their paths, sorted."""
    out.mkdir(parents=True)
    for path in sorted(folder.iterdir())[:count]:
        save(out / f"{path.stem}.png", load(path, True))
    return sorted(out.glob("*.png"))


def scene(name: str) -> str:
    """A PolyU crop's scene: its name without the crop number (camera, aperture, shutter, ISO
    and the scene's name: Canon80D_8_8_3200_ball_16.JPG is Canon80D_8_8_3200_ball)."""
    return Path(name).stem.rsplit("_", 1)[0]


def shared_scenes(train: list[str], test: list[str]) -> set[str]:
    """The scenes (by ``scene``, or by the scene's own name, its last word) on both sides."""
    ours, theirs = {scene(n) for n in train}, {scene(n) for n in test}
    words = {s.rsplit("_", 1)[-1] for s in ours} & {s.rsplit("_", 1)[-1] for s in theirs}
    return (ours & theirs) | {s for s in ours | theirs if s.rsplit("_", 1)[-1] in words}


def real(polyu: Path, sweep: list[float], count: int | None, work: Path) -> list[tuple]:
    """Rows for the PolyU test scenes, which no train scene may share."""
    both = shared_scenes(
        [p.name for p in (polyu / "train").iterdir()], [p.name for p in (polyu / "test").iterdir()]
    )
    if both:
        sys.exit(f"{polyu}: scenes on both sides of the split: {', '.join(sorted(both))}")
    noisy = as_png(polyu / "test", work / "noisy", count)
    clean = as_png(polyu / "test_clean", work / "clean", count)
    pairs = list(zip(clean, noisy, strict=True))
    rows = [("noisy", scores(pairs, None, True), "")]
    levels = [estimate(path) for path in noisy]
    bm3d_folder(pairs, levels, work / "cbm3d-estimated", True)
    note = f"told each image's estimate (mean {np.mean(levels):.1f})"
    rows.append(("cbm3d", scores(pairs, work / "cbm3d-estimated", True), note))
    swept = {}
    for sigma in sweep:
        bm3d_folder(pairs, sigma, work / f"cbm3d-{sigma:g}", True)
        swept[sigma] = scores(pairs, work / f"cbm3d-{sigma:g}", True)
    best = max(swept, key=lambda s: swept[s][0])
    note = f"sigma {best:g}, the best of {', '.join(f'{s:g}' for s in sweep)}: an upper bound"
    rows.append(("cbm3d best", swept[best], note))
    denoise_folder("color", work / "noisy", work / "color")
    rows.append(("bundled color", scores(pairs, work / "color", True), "blind: sigma estimated"))
    for name in (name for name in CAMERA_MODELS if name in shipped()):
        denoise_folder(name, work / "noisy", work / name)
        rows.append((f"bundled {name}", scores(pairs, work / name, True), CAMERA_MODELS[name]))
        denoise_folder(name, work / "noisy", work / f"{name}-tta", "--tta")
        note = "the same, 8 flips and rotations averaged (--tta)"
        rows.append((f"bundled {name}+tta", scores(pairs, work / f"{name}-tta", True), note))
    return rows


def figures(rni15: Path, names: list[str], out: Path, work: Path, side: int = 200) -> None:
    """For each of ``names`` in ``rni15`` (real noisy photos without references), a figure in
    ``out``: a ``side`` x ``side`` crop from the middle, at full resolution, of the noisy photo,
    the bundled model's result (blind), the camera-noise and real-noise models' (those bundled)
    and CBM3D's told scikit-image's estimate of sigma."""
    from PIL import Image, ImageDraw

    (work / "rni15").mkdir(parents=True)
    for name in names:
        (work / "rni15" / name).symlink_to((rni15 / name).resolve())
    denoise_folder(None, work / "rni15", work / "rni15-bundled")
    named = [name for name in CAMERA_MODELS if name in shipped()]
    for name in named:
        denoise_folder(name, work / "rni15", work / f"rni15-{name}")
    sources = [work / "rni15" / name for name in names]
    levels = [estimate(path) for path in sources]
    pairs = [(path, path) for path in sources]
    bm3d_folder(pairs, levels, work / "rni15-cbm3d", True)
    out.mkdir(parents=True, exist_ok=True)
    for path, level in zip(sources, levels, strict=True):
        panels = [
            ("noisy", load(path, True)),
            ("bundled, blind", load(work / "rni15-bundled" / f"{path.stem}.png", True)),
            *[
                (f"bundled {name}", load(work / f"rni15-{name}" / f"{path.stem}.png", True))
                for name in named
            ],
            (f"CBM3D, sigma {level:.1f}", load(work / "rni15-cbm3d" / path.name, True)),
        ]
        height, width = panels[0][1].shape[:2]
        top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
        figure = Image.new("RGB", (len(panels) * (side + 4) - 4, side + 18), "white")
        draw = ImageDraw.Draw(figure)
        for index, (label, pixels) in enumerate(panels):
            crop = np.round(pixels[top : top + side, left : left + side] * 255).astype(np.uint8)
            figure.paste(Image.fromarray(crop), (index * (side + 4), 18))
            draw.text((index * (side + 4) + 2, 3), label, fill="black")
        figure.save(out / f"rni15-{path.stem}.png")


def print_table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"{'method':<18} {'PSNR dB':>8} {'SSIM':>7}   note")
    for method, (psnr, ssim), note in rows:
        print(f"{method:<18} {psnr:>8.2f} {ssim:>7.3f}   {note}")
    print(json.dumps({"table": title, "scores": {m: v for m, v, _ in rows}}), flush=True)


def record(results: dict[str, dict]) -> None:
    """Write each bundled model's scores into its card ("bundled" / "scores"): the tables this
    run measured replace theirs; the card's others (a set not given this time) stay."""
    for name, table in results.items():
        card_path = HERE / name / "card.json"
        card = json.loads(card_path.read_text())
        card["bundled"].setdefault("scores", {}).update(table)
        card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gray-data", type=Path, help="a folder of grey test PNGs (Set12)")
    parser.add_argument("--color-data", type=Path, help="a folder of colour test PNGs (Kodak24)")
    parser.add_argument("--polyu", type=Path, help="PolyU's folder: test/ and test_clean/")
    parser.add_argument("--sigma", type=float, action="append", help="0-255 (15, 25 and 50)")
    parser.add_argument(
        "--sweep", default="2,3,4,5,6,8,10,12,15,20", help="CBM3D's sigmas on PolyU"
    )
    parser.add_argument("--max-images", type=int, help="the first N images of each set")
    parser.add_argument("--record", action="store_true", help="write the scores into the cards")
    parser.add_argument(
        "--float32",
        type=Path,
        help="the bundled colour model's float32 original (its training's model folder): "
        "scored beside it on the colour images, to measure what float16 storage costs",
    )
    parser.add_argument("--rni15", type=Path, help="RNI15's folder (real noisy photos)")
    parser.add_argument("--figures", type=Path, help="write figures of --rni15's photos here")
    parser.add_argument(
        "--figure-images", default="Dog.png,Frog.png,Flowers.png", help="RNI15 photos to show"
    )
    args = parser.parse_args()
    if not shipped():
        sys.exit("no bundled model in denoising/bundled/: run scripts/train_bundled.py first")
    given = (args.gray_data, args.color_data, args.polyu)
    if not any(given):  # The shared benchmarks, where they are.
        given = (SHARED / "photos/test", SHARED / "color/test", SHARED / "real/polyu")
    sigmas = args.sigma or [15.0, 25.0, 50.0]
    work = Path(tempfile.mkdtemp(prefix="bundled-bench-"))
    print(f"# {machine()}; bundled models: {', '.join(shipped())}; work: {work}", flush=True)
    results: dict[str, dict] = {}
    for data, colour in ((given[0], False), (given[1], True)):
        if data is None:
            continue
        test = limited(data, args.max_images, work / f"test-{colour}")
        for sigma in sigmas:
            folder = work / f"{'color' if colour else 'gray'}-{sigma:g}"
            rows = synthetic(test, colour, sigma, folder, args.float32 if colour else None)
            kind = "colour" if colour else "grey"
            print_table(f"{data}: {kind}, sigma {sigma:g}, clipped 8-bit PNGs", rows)
            model, (psnr, ssim) = rows[1][0].split()[1], rows[1][1]
            if model == ("color" if colour else "gray"):  # Its own benchmark, not a stand-in's.
                entry = {"data": str(data), "psnr": psnr, "ssim": ssim, "bm3d": rows[2][1][0]}
                results.setdefault(model, {})[f"{sigma:g}"] = entry
    if given[2] is not None:
        sweep = [float(value) for value in args.sweep.split(",")]
        rows = real(given[2], sweep, args.max_images, work / "polyu")
        print_table(f"{given[2]}: real camera noise, test scenes", rows)
        for method, (psnr, ssim), _ in rows:
            if method.startswith("bundled "):
                name, tta = method.split()[1].partition("+")[::2]
                entry = {"psnr": psnr, "ssim": ssim, "noisy": rows[0][1][0]}
                results.setdefault(name, {})["polyu_tta" if tta else "polyu"] = entry
    if args.record:
        record(results)
    if args.figures:
        rni15 = args.rni15 or SHARED / "real/RNI15"
        figures(rni15, args.figure_images.split(","), args.figures, work)
        print(f"figures of {rni15} in {args.figures}")


if __name__ == "__main__":
    main()
