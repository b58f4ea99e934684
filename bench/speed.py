"""Benchmark: the pipeline's overhead against bare loops, and its memory at N and 4N images.

Makes its own folder of N synthetic 28x28 PNGs (plus N/5 test images), then prints, measured
side by side in this one run:
- preprocess images/s against a bare parallel Pillow decode loop over the same files;
- one training epoch of dense and conv through the train stage against a bare ``model.fit`` on
  in-memory NumPy arrays (same model, batch, rows and validation set);
- denoising images/s through the denoise stage against a bare ``model.predict``;
- the peak RSS of each stage (largest process) for N and 4N images;
- the time of a no-op ``dvc repro`` and of ``dvc status`` on a project that reads the folder.

    python bench/speed.py --n 20000
"""

import argparse
import json
import multiprocessing
import re
import shutil
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

BARE_FIT_LINE = re.compile(r"bare fit took ([\d.]+) s")
PREDICT = re.compile(r"predict took ([\d.]+) s")
READ = re.compile(r"read \d+ files in ([\d.]+) s")

BARE_FIT = """
import sys, time, numpy as np, keras
from denoising.train.models import build_model
from denoising.params import load_section, MODEL_PARAMS, TrainParams, training_for
from denoising.train.plan import split_indices
params_path, model_name, clean_dir, noisy_dir = sys.argv[1:5]
section = load_section(params_path, f"models.{model_name}", MODEL_PARAMS[model_name])
train = training_for(load_section(params_path, "train", TrainParams), section)
clean = np.load(f"{clean_dir}/train.npy"); noisy = np.load(f"{noisy_dir}/train.npy")
fit_rows, val_rows = split_indices(len(clean), train.validation_split, 42)
keras.utils.set_random_seed(42)
model = build_model(model_name, section, clean.shape[1:], train.learning_rate, train.loss)
x, y = noisy[fit_rows], clean[fit_rows]
started = time.perf_counter()
model.fit(x, y, epochs=train.epochs, batch_size=train.batch_size, shuffle=True,
          validation_data=(noisy[val_rows], clean[val_rows]), verbose=0)
print(f"bare fit took {time.perf_counter() - started:.2f} s")
"""

BARE_PREDICT = """
import sys, time, numpy as np, keras
model = keras.saving.load_model(sys.argv[1])
arrays = [np.load(f"{sys.argv[2]}/{split}.npy") for split in ("train", "test")]
started = time.perf_counter()
for array in arrays:
    model.predict(array, batch_size=int(sys.argv[3]), verbose=0)
print(f"predict took {time.perf_counter() - started:.2f} s")
"""


def write_png(item: tuple[Path, int]) -> None:
    path, seed = item
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    centre, radius = rng.uniform(8, 20, size=2), rng.uniform(4, 9)
    blob = np.hypot(rows - centre[0], cols - centre[1]) < radius
    Image.fromarray((blob * rng.uniform(150, 255)).astype(np.uint8)).save(path)


def make_folder(root: Path, n_train: int) -> int:
    """N training and N/5 test PNGs in 100 subfolders per split; returns the total count."""
    items = []
    for split, count in (("train", n_train), ("test", n_train // 5)):
        for index in range(count):
            folder = root / split / f"{index % 100:02d}"
            items.append((folder / f"{index:07d}.png", index * 2 + (split == "test")))
    for folder in {path.parent for path, _ in items}:
        folder.mkdir(parents=True, exist_ok=True)
    with multiprocessing.Pool() as pool:
        pool.map(write_png, items, chunksize=256)
    return len(items)


def decode(path: Path) -> float:
    with Image.open(path) as image:
        gray = image.convert("L").resize((28, 28), Image.Resampling.BICUBIC)
        return float(np.asarray(gray, dtype=np.float32).mean())


def bare_decode(root: Path) -> float:
    """Seconds for a bare parallel Pillow decode of every file, as preprocess does it."""
    paths = sorted(root.rglob("*.png"))
    started = time.perf_counter()
    with multiprocessing.Pool() as pool:
        for _ in pool.imap(decode, paths, chunksize=256):
            pass
    return time.perf_counter() - started


def measure(args: list, cwd: Path) -> tuple[float, float, str]:
    """Run a command; its wall seconds, the peak RSS (MB) of its largest process, its output."""
    wrapper = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.exit(r.returncode)"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode:
        sys.exit(output)
    rss = float(re.search(r"peak_rss_kb (\d+)", output).group(1)) / 1024
    return seconds, rss, output


ROUNDS = 5


def side_by_side(stage_args: list, stage_seconds, bare_args: list, bare_seconds, cwd: Path):
    """The shortest of ``ROUNDS`` runs each of the stage's and of the bare command's seconds,
    as ``stage_seconds(output)`` and ``bare_seconds(output)`` read them after each run, the two
    run in turn: timings on a shared machine drift by tens of percent, and taking turns lets
    both see the same drift."""
    stage_times, bare_times = [], []
    for _ in range(ROUNDS):
        stage_times.append(stage_seconds(measure(stage_args, cwd)[2]))
        bare_times.append(bare_seconds(measure(bare_args, cwd)[2]))
    return min(stage_times), min(bare_times)


def found(pattern: re.Pattern):
    """Seconds read from a command's output by ``pattern``."""
    return lambda output: float(pattern.search(output).group(1))


def make_project(project: Path, data_dir: Path) -> None:
    def update(params: dict) -> None:
        params["data"]["dir"] = str(data_dir)
        params["noise"]["levels"] = [0.5]
        params["train"].update(models=["dense", "conv"], blind_models=[], epochs=1)
        # Several dense epochs, so that the first epoch's tracing does not dominate its time.
        params["models"]["dense"]["epochs"] = 5
        params["models"]["conv"]["epochs"] = 1
        params["baselines"].update(methods=["median"], max_images=50)
        params["visualize"]["baselines"] = []
        params["apply"]["model"] = "conv/0.5"

    copy_pipeline(project, update)


def stage(name: str, *args) -> list:
    return [sys.executable, "-m", f"stages.{name}", "--params", "params.yaml", *args]


def run_size(work: Path, n: int, rss: dict, report: bool) -> None:
    """Measure every stage on n training images; print ratios if ``report``."""
    data, project = work / f"images-{n}", work / f"project-{n}"
    total = make_folder(data, n)
    make_project(project, data)
    out = project / "scratch"
    seconds, rss["preprocess", n], _ = measure(
        stage("preprocess", "--out-dir", out / "clean"), project
    )
    if report:
        readings, bares = [], []
        for _ in range(ROUNDS):  # in turn, as side_by_side does
            output = measure(stage("preprocess", "--out-dir", out / "clean"), project)[2]
            readings.append(float(READ.search(output).group(1)))
            bares.append(bare_decode(data))
        reading, bare = min(readings), min(bares)
        print(
            f"preprocess: {total / reading:,.0f} images/s in the stage ({total / seconds:,.0f} "
            f"counting Python's start-up), {total / bare:,.0f} images/s bare decode: ratio "
            f"{bare / reading:.2f} ({bare / seconds:.2f} with start-up) (>= 0.8)"
        )
    noise_args = ["--level", 0.5, "--clean-dir", out / "clean", "--out-dir", out / "noisy"]
    _, rss["add_noise", n], _ = measure(stage("add_noise", *noise_args), project)
    for model in ("dense", "conv") if report else ("dense",):
        for streamed in ("off", "on"):
            params = yaml.safe_load((project / "params.yaml").read_text())
            params["train"]["stream"] = streamed
            (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            train_args = ["--model", model, "--level", 0.5, "--clean-dir", out / "clean"]
            train_args += ["--noisy-dir", out / "noisy", "--model-dir", out / f"model-{model}"]
            train_args += ["--live-dir", out / "live", "--timings", out / "timing.json"]
            _, peak, _ = measure(stage("train", *train_args), project)
            rss[f"train {model} stream {streamed}", n] = peak
            if report:
                bare = [sys.executable, "-c", BARE_FIT, "params.yaml", model]
                bare += [out / "clean", out / "noisy"]
                fit, bare_fit = side_by_side(
                    stage("train", *train_args),
                    lambda _: json.loads((out / "timing.json").read_text())["fit_seconds"],
                    bare,
                    found(BARE_FIT_LINE),
                    project,
                )
                epochs = params["models"][model]["epochs"]
                print(
                    f"train {model} (stream {streamed}): {fit / epochs:.2f} s an epoch, bare "
                    f"fit {bare_fit / epochs:.2f} s: ratio {fit / bare_fit:.2f} (<= 1.1)"
                )
    denoise_args = [
        "--level",
        0.5,
        "--model-name",
        "dense",
        "--model",
        out / "model-dense/model.keras",
        "--clean-dir",
        out / "clean",
        "--noisy-dir",
        out / "noisy",
        "--out-dir",
        out / "denoised",
        "--metrics",
        out / "m.json",
    ]
    _, rss["denoise", n], _ = measure(stage("denoise", *denoise_args), project)
    if report:
        bare = [sys.executable, "-c", BARE_PREDICT, out / "model-dense/model.keras"]
        bare += [out / "noisy", 256]
        denoise = stage("denoise", *denoise_args)
        predict, bare_predict = side_by_side(
            denoise, found(PREDICT), bare, found(PREDICT), project
        )
        images = total
        print(
            f"denoise: {images / predict:,.0f} images/s through the stage, "
            f"{images / bare_predict:,.0f} images/s bare predict: ratio "
            f"{predict / bare_predict:.2f} (<= 1.1)"
        )
        dvc = [sys.executable, "-m", "dvc"]
        measure([*dvc, "repro"], project)
        repro_seconds, _, _ = measure([*dvc, "repro"], project)
        status_seconds, _, _ = measure([*dvc, "status"], project)
        print(
            f"no-op dvc repro: {repro_seconds:.2f} s; dvc status: {status_seconds:.2f} s "
            f"({total} files in the data folder)"
        )


def hashing(work: Path, data: Path) -> None:
    """The cost of DVC hashing a big dependency folder: a one-stage project that depends on it,
    timed for the first `dvc status` (every file hashed) and the next ones (state cache warm)."""
    project = work / "hashing"
    project.mkdir()
    (project / "dvc.yaml").write_text(
        f"stages:\n  count:\n    cmd: ls -R {data} | wc -l > count.txt\n"
        f"    deps: [{data}]\n    outs: [count.txt]\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc = [sys.executable, "-m", "dvc"]
    measure([*dvc, "init", "-q"], project)
    first, _, _ = measure([*dvc, "status"], project)
    measure([*dvc, "repro"], project)
    warm, _, _ = measure([*dvc, "status"], project)
    noop, _, _ = measure([*dvc, "repro"], project)
    files = sum(1 for _ in data.rglob("*.png"))
    print(
        f"hashing a {files}-file folder: first dvc status {first:.2f} s (hashes every file), "
        f"then dvc status {warm:.2f} s and no-op dvc repro {noop:.2f} s (state cache warm)"
    )


def main() -> None:
    global ROUNDS  # --rounds sets it for side_by_side
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="training images (test: n/5)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"runs of each side-by-side pair ({ROUNDS})"
    )
    parser.add_argument(
        "--quick", action="store_true", help="N only: no 4N run and no hashing (a smoke run)"
    )
    args = parser.parse_args()
    if args.n < 5 or args.rounds < 1:
        parser.error("--n must be at least 5 and --rounds at least 1")
    ROUNDS = args.rounds
    work = args.keep or Path(tempfile.mkdtemp(prefix="speed-"))
    print(f"# {machine()}; N = {args.n} training + {args.n // 5} test PNGs, 28x28")
    rss = {}
    try:
        run_size(work, args.n, rss, report=True)
        if not args.quick:
            run_size(work, 4 * args.n, rss, report=False)
            hashing(work, work / f"images-{4 * args.n}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\npeak RSS (MB, largest process)   {'N':>8} {'4N':>8}  4N/N (<= 1.2)")
    for name in dict.fromkeys(key for key, _ in rss):
        small = rss[name, args.n]
        if (name, 4 * args.n) in rss:
            large = rss[name, 4 * args.n]
            print(f"{name:<32} {small:>8.0f} {large:>8.0f}  {large / small:.2f}")
        else:
            print(f"{name:<32} {small:>8.0f} {'-':>8}")


if __name__ == "__main__":
    main()
