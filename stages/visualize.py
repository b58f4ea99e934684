"""Stage visualize: seeded random test images at one level: original (when there is one), noisy,
each model, and the chosen baselines, side by side, each row labelled with compare's scores."""

import argparse
from pathlib import Path

import numpy as np

from denoising.errors import UserError, run_stage
from denoising.files import atomic_path, load_array, load_json
from denoising.layout import add_level_arguments, read_level, reference_file, scored_models
from denoising.names import level_name
from denoising.params import TrainParams, VisualizeParams, load_section, load_seed
from denoising.score.figures import sample_grid, score_label


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_level_arguments(parser)
    parser.add_argument("--scores", type=Path, required=True, help="compare's metrics/<level>")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "visualize", VisualizeParams)
    train = load_section(args.params, "train", TrainParams)
    seed = load_seed(args.params)

    # Baselines ran on a subset of the test set, so pick from it. The same seed at every level
    # picks the same images, so the figures compare across levels.
    subset = load_array(args.baselines_dir / "subset.npy")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(subset, size=min(params.n_samples, len(subset)), replace=False))
    models = scored_models(train.models, train.blind_models)
    reference = reference_file(args.clean_dir, args.level)
    rows = read_level(reference, args.noisy_dir, args.denoised_dir, models, picks)
    positions = np.searchsorted(subset, picks)
    for method in params.baselines:
        path = args.baselines_dir / f"{method}.npy"
        if not path.is_file():
            raise UserError(f"visualize.baselines: '{method}' is not in baselines.methods")
        rows[method] = load_array(path)[positions]

    title = f"Test images at noise level {level_name(args.level)}"
    if reference is None:
        title = "Test images with real noise (no clean references)"
    scores = load_json(args.scores)
    rows = {score_label(name, scores.get(name)): images for name, images in rows.items()}
    figure = sample_grid(rows, title=title)
    with atomic_path(args.out) as temporary:
        figure.savefig(temporary, dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    run_stage(main)
