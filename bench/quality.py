"""Benchmark: how each model and each classical denoiser does at every noise level.

Brings the pipeline up to date with `dvc repro`, then retrains every model once more to time its
fit (training is deterministic, so the outputs do not change), and prints, per level, PSNR and
SSIM on the baselines' test subset for the noisy input, each model and each baseline, with
training seconds per model (a blind model's is for all levels at once) and seconds per image (in
one worker process) per baseline.

    python bench/quality.py
"""

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
FIT_SECONDS = re.compile(r"fit took ([\d.]+) s")


def dvc(*args: str) -> str:
    # The stages run "python": make it this interpreter, even from a venv that is not activated.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(result.stdout + result.stderr)
    return result.stdout + result.stderr


def machine() -> str:
    """The CPU model and core count, so that timings can be read against the hardware."""
    cpuinfo = Path("/proc/cpuinfo")
    names = re.findall(r"model name\s*: (.+)", cpuinfo.read_text()) if cpuinfo.exists() else []
    cpu = names[0] if names else platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    levels, models = params["noise"]["levels"], params["train"]["models"]
    blind_models = params["train"]["blind_models"]
    dvc("repro")
    fit_seconds = {}
    for model in models:
        for level in levels:
            output = dvc("repro", "--force", "--single-item", f"train@{model}-{level}")
            fit_seconds[model, level] = float(FIT_SECONDS.search(output).group(1))
    for model in blind_models:
        output = dvc("repro", "--force", "--single-item", f"train_blind@{model}")
        for level in levels:
            fit_seconds[f"{model}-blind", level] = float(FIT_SECONDS.search(output).group(1))
    assert dvc("status").strip().endswith("up to date."), "retraining changed an output"

    print(f"# {machine()}; data: {params['data']['dir']}")
    for level in levels:
        scores = json.loads((REPO / f"metrics/compare/{level}.json").read_text())
        timing = json.loads((REPO / f"logs/baselines/{level}_seconds_per_image.json").read_text())
        print(f"\nnoise level {level} ({scores['images']} test images)")
        print(f"{'method':<10} {'PSNR dB':>8} {'SSIM':>7} {'seconds':>22}")
        scored = [*models, *(f"{model}-blind" for model in blind_models)]
        methods = ["noisy", *scored, *(m for m in scores if m in timing)]
        for method in methods:
            score = scores[method]
            if method in scored:
                seconds = f"{fit_seconds[method, level]:.1f} s training"
            elif method in timing:
                seconds = f"{timing[method]:.4f} s/image"
            else:
                seconds = ""
            print(f"{method:<10} {score['psnr']:>8.2f} {score['ssim']:>7.3f} {seconds:>22}")


if __name__ == "__main__":
    main()
