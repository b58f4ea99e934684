"""Benchmark: training without clean images (Noise2Noise), and one blind model for all levels.

    python bench/noise.py [--data data/sample] [--epochs N] [--levels 0.3 0.5 0.8]

Everything runs in a temporary copy of the pipeline (the workspace is left as it is), on the
workspace's params with ``--data``, ``--epochs`` and ``--levels`` set over them:
1. Noise2Noise. For conv at noise 0.5, trains with target clean and with target noisy (a second,
   independent noisy copy), with MSE, on unclipped and on clipped Gaussian noise, through the
   real stage scripts, and prints the test PSNR of each and the gaps.
2. Blind. `dvc repro` in the copy, with conv per level and blind: the blind conv model, trained
   on levels drawn from train.noise_range, against the per-level conv models, at every level.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.project import ENV, copy_pipeline, dvc_repro, machine  # noqa: E402

LEVEL = 0.5
# conv with MSE at Adam's default rate (0.001) collapses to all-black output on digits.
LEARNING_RATE = 0.0003


def stage(project: Path, name: str, *args) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{name}", *map(str, args)],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(result.stdout + result.stderr)


def noise2noise(project: Path, clip: bool, target: str, work: Path) -> float:
    """Test PSNR of conv trained at LEVEL with this clipping and target, on the preprocessed
    images of ``project``."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["noise"]["clip"] = clip
    params["train"].update(target=target, loss="mse", fresh_noise=False)
    params["models"]["conv"]["learning_rate"] = LEARNING_RATE
    work.mkdir()
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", work / "params.yaml"]
    clean = project / "data/preprocessed"
    stage(
        project,
        "add_noise",
        *common,
        "--level",
        LEVEL,
        "--clean-dir",
        clean,
        "--out-dir",
        work / "noisy",
    )
    stage(
        project,
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
        project,
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="data.dir (default: the params' own)")
    parser.add_argument("--epochs", type=int, help="epochs for conv (default: params)")
    parser.add_argument("--levels", type=float, nargs="+", help="blind: noise.levels (params)")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: it must be 1 or more")
    work = Path(tempfile.mkdtemp(prefix="noise-bench-"))
    project = work / "project"

    def update(params: dict) -> None:
        if args.data is not None:
            params["data"]["dir"] = str(args.data.resolve())
        params["train"].update(models=["conv"], blind_models=["conv"])
        if args.levels is not None:
            params["noise"]["levels"] = args.levels
        params["apply"]["model"] = f"conv/{params['noise']['levels'][0]}"
        if args.epochs is not None:
            params["models"]["conv"]["epochs"] = args.epochs
            params["train"]["blind_epochs"] = args.epochs

    copy_pipeline(project, update)
    dvc_repro(project, "preprocess")
    print(f"# {machine()}; work: {work}")
    print(f"# conv, Gaussian noise {LEVEL}, MSE, learning rate {LEARNING_RATE}; test PSNR (dB)")
    print(f"{'noise':<10} {'target clean':>13} {'target noisy':>13} {'gap':>6}")
    for clip in (False, True):
        psnr = {t: noise2noise(project, clip, t, work / f"{clip}-{t}") for t in ("clean", "noisy")}
        name = "clipped" if clip else "unclipped"
        gap = psnr["clean"] - psnr["noisy"]
        print(f"{name:<10} {psnr['clean']:>13.2f} {psnr['noisy']:>13.2f} {gap:>6.2f}")

    dvc_repro(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    print(
        f"\n# blind conv, trained on levels in {params['train']['noise_range']}, "
        "against per-level conv; PSNR (dB) on the baselines' test subset"
    )
    print(f"{'level':<6} {'per-level':>10} {'blind':>8} {'gap':>6}")
    for level in params["noise"]["levels"]:
        scores = json.loads((project / f"metrics/compare/{level}.json").read_text())
        per_level, blind = scores["conv"]["psnr"], scores["conv-blind"]["psnr"]
        print(f"{level:<6} {per_level:>10.2f} {blind:>8.2f} {per_level - blind:>6.2f}")


if __name__ == "__main__":
    main()
