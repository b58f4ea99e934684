"""Stage visualize: a grid of seeded random test images, original / noisy / denoised, per level."""

import argparse
from pathlib import Path

import numpy as np

from denoising.cli import run_stage
from denoising.figures import sample_grid
from denoising.files import atomic_path, load_array
from denoising.params import VisualizeParams, load_section, load_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=float, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--denoised-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params = load_section(args.params, "visualize", VisualizeParams)
    seed = load_seed(args.params)

    clean = load_array(args.clean_dir / "test.npy")
    # The same seed at every level picks the same images, so figures compare across levels.
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(clean), size=min(params.n_samples, len(clean)), replace=False))
    rows = {
        "original": clean[picks],
        "noisy": load_array(args.noisy_dir / "test.npy")[picks],
        "denoised": load_array(args.denoised_dir / "test.npy")[picks],
    }
    figure = sample_grid(rows, title=f"Test images at noise level {args.level:g}")
    with atomic_path(args.out) as temporary:
        figure.savefig(temporary, dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    run_stage(main)
