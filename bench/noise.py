"""Benchmark: training without clean images (Noise2Noise), and one blind model for all levels.

1. Noise2Noise. For conv at noise 0.5, trains with target clean and with target noisy (a second,
   independent noisy copy), with MSE, on unclipped and on clipped Gaussian noise, through the
   real stage scripts, and prints the test PSNR of each and the gaps.
2. Blind. Reads the pipeline's own scores (run `dvc repro` first): the blind conv model, trained
   on levels drawn from train.noise_range, against the per-level conv models, at every level.

    python bench/noise.py
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LEVEL = 0.5
# conv with MSE at Adam's default rate (0.001) collapses to all-black output on digits.
LEARNING_RATE = 0.0003


def stage(name: str, *args) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{name}", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(result.stdout + result.stderr)


def noise2noise(clip: bool, target: str, work: Path) -> float:
    """Test PSNR of conv trained at LEVEL with this clipping and target."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["noise"]["clip"] = clip
    params["train"].update(target=target, loss="mse", fresh_noise=False)
    params["models"]["conv"]["learning_rate"] = LEARNING_RATE
    work.mkdir()
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", work / "params.yaml"]
    clean = REPO / "data/preprocessed"
    stage(
        "add_noise", *common, "--level", LEVEL, "--clean-dir", clean, "--out-dir", work / "noisy"
    )
    stage(
        "train",
        *common,
        "--model",
        "conv",
        "--level",
        LEVEL,
        "--clean-dir",
        clean,
        "--noisy-dir",
        work / "noisy",
        "--model-dir",
        work / "model",
        "--live-dir",
        work / "live",
    )
    stage(
        "denoise",
        *common,
        "--level",
        LEVEL,
        "--model-name",
        "conv",
        "--model",
        work / "model/model.keras",
        "--clean-dir",
        clean,
        "--noisy-dir",
        work / "noisy",
        "--out-dir",
        work / "denoised",
        "--metrics",
        work / "metrics.json",
    )
    return json.loads((work / "metrics.json").read_text())["psnr_denoised"]


def main() -> None:
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    print(f"# conv, Gaussian noise {LEVEL}, MSE, learning rate {LEARNING_RATE}; test PSNR (dB)")
    print(f"{'noise':<10} {'target clean':>13} {'target noisy':>13} {'gap':>6}")
    with tempfile.TemporaryDirectory() as scratch:
        for clip in (False, True):
            psnr = {
                t: noise2noise(clip, t, Path(scratch) / f"{clip}-{t}") for t in ("clean", "noisy")
            }
            name = "clipped" if clip else "unclipped"
            gap = psnr["clean"] - psnr["noisy"]
            print(f"{name:<10} {psnr['clean']:>13.2f} {psnr['noisy']:>13.2f} {gap:>6.2f}")

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    print(
        f"\n# blind conv, trained on levels in {params['train']['noise_range']}, "
        "against per-level conv; PSNR (dB) on the baselines' test subset"
    )
    print(f"{'level':<6} {'per-level':>10} {'blind':>8} {'gap':>6}")
    for level in params["noise"]["levels"]:
        scores = json.loads((REPO / f"metrics/compare/{level}.json").read_text())
        per_level, blind = scores["conv"]["psnr"], scores["conv-blind"]["psnr"]
        print(f"{level:<6} {per_level:>10.2f} {blind:>8.2f} {per_level - blind:>6.2f}")


if __name__ == "__main__":
    main()
