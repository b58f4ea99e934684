"""Stage compare: noisy input, every model and every baseline, scored on the same test subset."""

import argparse
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import load_array, load_json, save_json
from denoising.layout import add_level_arguments, read_level, scored_models
from denoising.metrics import best_method, quality
from denoising.params import TrainParams, load_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_level_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    train = load_section(args.params, "train", TrainParams)

    # Only the subset's rows are read, however large the test split is.
    subset = load_array(args.baselines_dir / "subset.npy")
    models = scored_models(train.models, train.blind_models)
    images = read_level(args.clean_dir, args.noisy_dir, args.denoised_dir, models, subset)
    clean = images.pop("original")
    scores = {"noise_level": args.level, "images": len(subset)}
    scores.update({name: quality(clean, denoised) for name, denoised in images.items()})
    scores.update(load_json(args.baselines_dir / "metrics.json"))
    scores["best_method"] = best_method(scores)
    save_json(args.out, scores)


if __name__ == "__main__":
    run_stage(main)
