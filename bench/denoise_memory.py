"""Peak memory and speed of denoise-images against image size: is memory bounded by the tile?

    python bench/denoise_memory.py [--megapixels 4 16 100] [--work DIR]

Writes one noisy grey 8-bit PNG per size (square), builds the default `conv` model (filters
[32, 32], untrained weights: the compute is the same) with its card, runs `denoise-images` on
each in a fresh process, and prints the peak resident memory of that process, in MB and in
bytes per pixel, with its run time. The numbers in docs come from this script.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.project import machine  # noqa: E402
from denoising.quiet import load_tensorflow  # noqa: E402


def build_model(folder: Path) -> None:
    """The default conv model with the card that denoise-images reads."""
    load_tensorflow()
    from denoising.params import ConvParams
    from denoising.train.models import build_model, save_model

    params = ConvParams(filters=[32, 32])
    model = build_model("conv", params, (28, 28, 1), 1e-3, "mse")
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / "model.keras")
    card = {"model": "conv", "input_shape": "any", "size_multiple": params.size_multiple}
    (folder / "card.json").write_text(json.dumps(card))


def write_image(path: Path, megapixels: float) -> int:
    """A square grey PNG of about ``megapixels``, written in bands to keep this script small."""
    side = int(round((megapixels * 1e6) ** 0.5))
    pixels = np.random.default_rng(0).integers(0, 256, size=(side, side), dtype=np.uint8)
    Image.fromarray(pixels).save(path, compress_level=1)
    return side * side


def peak_of(command: list[str]) -> tuple[float, int]:
    """Run ``command`` in a child; its wall time and the child's peak resident memory (bytes)."""
    code = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(time.perf_counter() - start, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, *command], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(output[0]), int(output[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[4, 16, 100])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="denoise-memory-"))
    build_model(work / "model")
    script = Path(sys.executable).parent / "denoise-images"
    print(f"# {machine()}")
    print(f"{'megapixels':>10} {'peak MB':>9} {'bytes/pixel':>12} {'seconds':>8}")
    for megapixels in args.megapixels:
        image = work / f"{megapixels:g}mp.png"
        pixels = write_image(image, megapixels)
        out = work / f"out-{megapixels:g}"
        command = [str(script), str(work / "model"), str(image), "-o", str(out), "--overwrite"]
        seconds, peak = peak_of(command)
        print(f"{pixels / 1e6:>10.1f} {peak / 1e6:>9.0f} {peak / pixels:>12.1f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
