"""Benchmark: how each model and each classical denoiser does at every noise level.

    python bench/quality.py [--data data/sample] [--epochs N] [--models dense unet]
                            [--levels 0.3 0.5 0.8]

In a temporary copy of the pipeline (the workspace is left as it is), runs `dvc repro` with
the workspace's params (``--data``, ``--epochs``, ``--models`` and ``--levels`` set them over
it), and prints, per level, PSNR and SSIM on the baselines' test subset for the noisy input, each
model and each baseline, with the training seconds and epochs of each model (a blind model's are
for all levels at once) and seconds per image (in one worker process) per baseline.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.project import copy_pipeline, dvc_repro, fit_timing, machine  # noqa: E402
from denoising.names import BLIND, BLIND_SUFFIX  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="data.dir (default: the params' own)")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: params)")
    parser.add_argument("--models", nargs="+", help="train.models (default: params)")
    parser.add_argument("--blind-models", nargs="*", help="train.blind_models (default: params)")
    parser.add_argument("--levels", type=float, nargs="+", help="noise.levels (default: params)")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: it must be 1 or more")
    project = Path(tempfile.mkdtemp(prefix="quality-bench-")) / "project"
    chosen = {}

    def update(params: dict) -> None:
        train = params["train"]
        if args.data is not None:
            params["data"]["dir"] = str(args.data.resolve())
        for key, value in (("models", args.models), ("blind_models", args.blind_models)):
            if value is not None:
                train[key] = value
        if args.levels is not None:
            params["noise"]["levels"] = args.levels
        if args.epochs is not None:
            train.update(epochs=args.epochs, blind_epochs=args.epochs)
            for model in {*train["models"], *train["blind_models"]}:
                params["models"][model]["epochs"] = args.epochs
        params["apply"]["model"] = f"{train['models'][0]}/{params['noise']['levels'][0]}"
        chosen.update(params)

    copy_pipeline(project, update)
    dvc_repro(project)
    levels, models = chosen["noise"]["levels"], chosen["train"]["models"]
    blind_models = chosen["train"]["blind_models"]
    timing = {
        (model, level): fit_timing(project, model, str(level))
        for model in models
        for level in levels
    }
    for model in blind_models:
        for level in levels:
            timing[f"{model}{BLIND_SUFFIX}", level] = fit_timing(project, model, BLIND)

    print(f"# {machine()}; data: {chosen['data']['dir']}; work: {project}")
    for level in levels:
        scores = json.loads((project / f"metrics/compare/{level}.json").read_text())
        baseline_seconds = json.loads(
            (project / f"logs/baselines/{level}_seconds_per_image.json").read_text()
        )
        print(f"\nnoise level {level} ({scores['images']} test images)")
        print(f"{'method':<12} {'PSNR dB':>8} {'SSIM':>7} {'time':>28}")
        scored = [*models, *(f"{model}{BLIND_SUFFIX}" for model in blind_models)]
        methods = ["noisy", *scored, *(m for m in scores if m in baseline_seconds)]
        for method in methods:
            score = scores[method]
            if method in scored:
                fit = timing[method, level]
                seconds = f"{fit['fit_seconds']:.1f} s training, {fit['epochs_run']} epochs"
            elif method in baseline_seconds:
                seconds = f"{baseline_seconds[method]:.4f} s/image"
            else:
                seconds = ""
            print(f"{method:<12} {score['psnr']:>8.2f} {score['ssim']:>7.3f} {seconds:>28}")


if __name__ == "__main__":
    main()
