"""Stage compare: noisy input, every model and every baseline, scored on the same test subset."""

import argparse
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import load_array, load_json, save_json
from denoising.metrics import quality
from denoising.params import TrainParams, load_section
from denoising.rows import read_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", required=True, help="as written in dvc.yaml, for paths")
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--denoised-dir", type=Path, required=True)
    parser.add_argument("--baselines-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    train = load_section(args.params, "train", TrainParams)

    subset = load_array(args.baselines_dir / "subset.npy")
    # Only the subset's rows are read, however large the test split is.
    clean = read_rows(args.clean_dir / "test.npy", subset)
    scores = {
        "noise_level": float(args.level),
        "images": len(subset),
        "noisy": quality(clean, read_rows(args.noisy_dir / "test.npy", subset)),
    }
    for model in train.scored_models:
        denoised = read_rows(args.denoised_dir / model / args.level / "test.npy", subset)
        scores[model] = quality(clean, denoised)
    scores.update(load_json(args.baselines_dir / "metrics.json"))
    save_json(args.out, scores)


if __name__ == "__main__":
    run_stage(main)
