"""Stage apply: denoise apply.input_dir at full size with denoise-images, using apply.model: a
trained model (<model>/<level>, <model>/blind), or best/<level>, the method that compare
measured best at that level among those denoise-images can run."""

import argparse
import logging
from pathlib import Path

from denoising.command.denoise_images import main as denoise_images
from denoising.errors import run_stage
from denoising.experiments.choice import choose
from denoising.files import load_json
from denoising.names import BEST
from denoising.params import ApplyParams, load_section

log = logging.getLogger("apply")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--compare-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "apply", ApplyParams)
    model, level = params.model.split("/")
    target = [str(args.models_dir / params.model)]
    if model == BEST:
        compared = load_json(args.compare_dir / f"{level}.json")
        method, psnr, target, passed = choose(compared, level, args.models_dir)
        skipped = f" (denoise-images cannot run {', '.join(passed)})" if passed else ""
        log.info("best at noise level %s: %s, %.2f dB%s", level, method, psnr, skipped)
    options = ["--tile", params.tile, "--overlap", params.overlap, "--batch", params.batch]
    options += ["--color", params.color, "--resize", str(params.resize).lower()]
    denoise_images(
        [*target[:1], params.input_dir, *target[1:], "-o", str(args.out_dir)]
        + [str(option) for option in options]
    )


if __name__ == "__main__":
    run_stage(main)
