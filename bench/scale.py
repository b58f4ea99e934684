"""Benchmark: beyond one process. denoise-images with --workers N (a Dask LocalCluster) against
the single-process command on the same folder, and a tune search shared by W workers through a
journal file against one worker, side by side in one run.

    python bench/scale.py [--images 2000] [--side 256] [--workers 2] [--trials 4] [--model DIR]

The images are seeded synthetic colour photos (smooth shapes, edges, noise) of --side pixels,
written as PNGs into a temporary folder; the model is --model (a folder with model.keras and its
card, such as models/unet/0.5 after `dvc repro`) or a small seeded conv model made here. Both
runs must give the same bytes, and the bench checks that they do. The search runs --trials
trials of a tiny pipeline (a copy, in temporary clones of its own git remote: the workspace is
left as it is), first with one worker, then with --workers workers sharing one study;
``--trials 0`` skips it. Each line gives seconds and the rate, and the ratio to one process.
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.project import ENV, copy_pipeline, machine  # noqa: E402


def write_photos(folder: Path, count: int, side: int) -> None:
    """``count`` seeded colour images: a few smooth discs over a gradient, with noise."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    rows, cols = np.mgrid[0:side, 0:side] / side
    for index in range(count):
        image = np.stack([rows * rng.uniform(), cols * rng.uniform(), (rows + cols) / 2], -1)
        for _ in range(3):
            centre, radius = rng.uniform(0.2, 0.8, 2), rng.uniform(0.05, 0.3)
            disc = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius**2
            image[disc] = rng.uniform(size=3)
        image = np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1)
        Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / f"{index:05d}.png")


def small_model(folder: Path) -> Path:
    """A seeded, untrained conv model with its card: what it computes does not matter here."""
    import keras

    from denoising.params import ConvParams
    from denoising.train.models import build_model, save_model

    keras.utils.set_random_seed(0)
    model = build_model("conv", ConvParams(filters=[16, 16]), (32, 32, 1), 1e-3, "mse")
    folder.mkdir(parents=True)
    save_model(model, folder / "model.keras")
    card = {"model": "conv", "input_shape": "any", "size_multiple": 4}
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            sha.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return sha.hexdigest()


def timed(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(
            f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return seconds


def bench_denoise(work: Path, args: argparse.Namespace) -> None:
    photos = work / "photos"
    write_photos(photos, args.images, args.side)
    model = args.model or small_model(work / "model")
    command = [sys.executable, "-m", "denoising.command.denoise_images", str(model), str(photos)]
    one = timed([*command, "-o", str(work / "one")])
    many = timed([*command, "-o", str(work / "many"), "--workers", str(args.workers)])
    same = digest(work / "one") == digest(work / "many")
    print(f"\ndenoise-images, {args.images} colour PNGs of {args.side}x{args.side}, {model}")
    print(f"one process: {one:7.1f} s, {args.images / one:6.1f} files/s")
    print(
        f"--workers {args.workers}: {many:7.1f} s, {args.images / many:6.1f} files/s, "
        f"{one / many:.2f}x one process; the same bytes: {same}"
    )
    if not same:
        sys.exit("the results differ between one process and the workers")


def clones(work: Path, count: int) -> list[Path]:
    """A tiny pipeline pushed to a bare git remote, and ``count`` clones of it."""
    write_photos(work / "data/train", 32, 32)
    write_photos(work / "data/test", 8, 32)

    def tiny(params: dict) -> None:
        params["data"]["dir"] = str(work / "data")
        params["noise"]["levels"] = [0.5]
        params["train"].update(models=["conv"], blind_models=[], epochs=1, batch_size=16)
        params["models"]["conv"].update(filters=[4, 4], batch_size=16)
        params["baselines"].update(methods=["median"], max_images=6)
        params["visualize"].update(n_samples=2, baselines=[])
        params["apply"].update(model="conv/0.5", resize=False)

    project = work / "project"
    project.mkdir()
    copy_pipeline(project, tiny)
    space = {"search": {"train.learning_rate": {"low": 0.0005, "high": 0.02, "log": True}}}
    (project / "tune.yaml").write_text(yaml.safe_dump(space))
    remote = work / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", "space"]):
        subprocess.run(command, cwd=project, check=True, capture_output=True)
    subprocess.run(["git", "push", "-q", str(remote), "HEAD:main"], cwd=project, check=True)
    made = []
    for index in range(count):
        clone = work / f"clone-{index}"
        subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(clone)], check=True)
        for key, value in (("user.name", "bench"), ("user.email", "bench@example.com")):
            subprocess.run(["git", "config", key, value], cwd=clone, check=True)
        made.append(clone)
    return made


def search(places: list[Path], journal: Path, trials: int) -> float:
    """Seconds for ``trials`` trials shared by one worker per clone in ``places``."""
    command = [sys.executable, "-m", "denoising.experiments.tune", "--space", "tune.yaml"]
    command += ["--trials", str(trials), "--level", "0.5", "--storage", str(journal)]
    command += ["--study", journal.stem]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(command, cwd=p, env=ENV, stdout=subprocess.PIPE, text=True)
        for p in places
    ]
    outputs = [worker.communicate()[0] for worker in workers]
    if any(worker.returncode for worker in workers):
        sys.exit("a tune worker failed:\n" + "\n".join(outputs))
    return time.perf_counter() - started


def bench_search(work: Path, args: argparse.Namespace) -> None:
    places = clones(work, 1 + args.workers)
    one = search(places[:1], work / "one.journal", args.trials)
    many = search(places[1:], work / "many.journal", args.trials)
    print(f"\ntune, {args.trials} trials of a tiny pipeline (1 epoch of conv on 32 images)")
    print(f"1 worker:  {one:7.1f} s, {one / args.trials:5.1f} s a trial")
    print(
        f"{args.workers} workers: {many:7.1f} s, {many / args.trials:5.1f} s a trial, "
        f"{one / many:.2f}x one worker"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="photos to denoise (2000)")
    parser.add_argument("--side", type=int, default=256, help="their side in pixels (256)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the spread runs (2)")
    parser.add_argument("--trials", type=int, default=4, help="trials of the search; 0: none")
    parser.add_argument("--model", type=Path, help="a model folder (default: a small conv)")
    args = parser.parse_args()
    if args.images < 1 or args.workers < 1 or args.trials < 0 or args.side < 16:
        parser.error("--images and --workers must be at least 1, --trials 0 or more, --side 16+")
    print(f"# {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as folder:
        bench_denoise(Path(folder), args)
        if args.trials:
            bench_search(Path(folder), args)


if __name__ == "__main__":
    main()
