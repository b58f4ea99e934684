"""Stage baselines: classical denoisers on a seeded subset of the noisy test set, one level.
Each is told the level; real noise has none, so each image's sigma is estimated from it."""

import argparse
import logging
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import atomic_dir, save_array, save_json
from denoising.layout import reference_file
from denoising.names import REAL, level_name, parse_level
from denoising.params import BaselinesParams, load_section, load_seed
from denoising.rows import RowFile, read_rows
from denoising.score.baselines import run_method, subset_indices
from denoising.score.metrics import method_scores
from denoising.sigma import estimated_sigma

log = logging.getLogger("baselines")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=parse_level, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--timings", type=Path, required=True, help="seconds per image (a log)")
    args = parser.parse_args(argv)
    params = load_section(args.params, "baselines", BaselinesParams)
    seed = load_seed(args.params)

    # Only the subset's rows are read, however large the test split is.
    noisy_file = RowFile(args.noisy_dir / "test.npy")
    subset = subset_indices(len(noisy_file), params.max_images, seed)
    noisy = noisy_file[subset]
    reference = reference_file(args.clean_dir, args.level)
    clean = None if reference is None else read_rows(reference, subset)
    real = args.level == REAL
    sigma = estimated_sigma(noisy) if real else args.level
    settings = {"gaussian_sigma": params.gaussian_sigma, "median_size": params.median_size}
    metrics, timing = {}, {}
    with atomic_dir(args.out_dir) as out_dir:
        for method in params.methods:
            denoised, timing[method] = run_method(method, noisy, sigma, settings, params.workers)
            save_array(out_dir / f"{method}.npy", denoised)
            metrics[method] = method_scores(clean, denoised, sigma=real)
            log.info(
                "level %s, %s: %s, %.4f s per image in each worker",
                level_name(args.level),
                method,
                ", ".join(f"{name} {value:.4f}" for name, value in metrics[method].items()),
                timing[method],
            )
        save_array(out_dir / "subset.npy", subset)
        save_json(out_dir / "metrics.json", metrics)
    # Timings measure the machine, not the method's result, and differ from run to run, so they
    # stay out of the stage's outputs, which must be byte-identical across reruns: a log file.
    save_json(args.timings, timing)


if __name__ == "__main__":
    run_stage(main)
