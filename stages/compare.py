"""Stage compare: noisy input, every model and every baseline, scored on the same test subset.
Real noise without clean references gets the estimated noise level of each instead."""

import argparse
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import load_array, load_json, save_json
from denoising.layout import (
    MISSING_SCORES,
    add_level_arguments,
    read_level,
    reference_file,
    scored_models,
)
from denoising.names import REAL
from denoising.params import TrainParams, load_section
from denoising.score.metrics import best_method, method_scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_level_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    train = load_section(args.params, "train", TrainParams)

    # Only the subset's rows are read, however large the test split is.
    subset = load_array(args.baselines_dir / "subset.npy")
    models = scored_models(train.models, train.blind_models)
    reference = reference_file(args.clean_dir, args.level)
    images = read_level(reference, args.noisy_dir, args.denoised_dir, models, subset)
    clean = images.pop("original", None)
    scores = {"noise_level": args.level, "images": len(subset)}
    for name, denoised in images.items():
        scores[name] = method_scores(clean, denoised, sigma=args.level == REAL)
    scores.update(load_json(args.baselines_dir / "metrics.json"))
    if clean is None:
        scores["scores_missing"] = MISSING_SCORES
    else:
        scores["best_method"] = best_method(scores)
    save_json(args.out, scores)


if __name__ == "__main__":
    run_stage(main)
