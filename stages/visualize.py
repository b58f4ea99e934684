"""Stage visualize: seeded random test images at one level: original, noisy, each model, and the
chosen baselines, side by side."""

import argparse
from pathlib import Path

import numpy as np

from denoising.errors import UserError, run_stage
from denoising.figures import sample_grid
from denoising.files import atomic_path, load_array
from denoising.params import TrainParams, VisualizeParams, load_section, load_seed
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
    params = load_section(args.params, "visualize", VisualizeParams)
    train = load_section(args.params, "train", TrainParams)
    seed = load_seed(args.params)

    # Baselines ran on a subset of the test set, so pick from it. The same seed at every level
    # picks the same images, so the figures compare across levels.
    subset = load_array(args.baselines_dir / "subset.npy")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(subset, size=min(params.n_samples, len(subset)), replace=False))
    rows = {
        "original": read_rows(args.clean_dir / "test.npy", picks),
        "noisy": read_rows(args.noisy_dir / "test.npy", picks),
    }
    for model in train.scored_models:
        rows[model] = read_rows(args.denoised_dir / model / args.level / "test.npy", picks)
    positions = np.searchsorted(subset, picks)
    for method in params.baselines:
        path = args.baselines_dir / f"{method}.npy"
        if not path.is_file():
            raise UserError(f"visualize.baselines: '{method}' is not in baselines.methods")
        rows[method] = load_array(path)[positions]

    figure = sample_grid(rows, title=f"Test images at noise level {args.level}")
    with atomic_path(args.out) as temporary:
        figure.savefig(temporary, dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    run_stage(main)
