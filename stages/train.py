"""Stage train: fit one denoising model at one noise level, or blind over a range of levels."""

import argparse
from pathlib import Path

from denoising.cards import model_card
from denoising.errors import run_stage
from denoising.names import parse_level
from denoising.params import (
    MODEL_NAMES,
    MODEL_PARAMS,
    NoiseParams,
    TrainParams,
    load_section,
    load_seed,
    training_for,
)
from denoising.train.plan import check_init, check_shapes, open_arrays, training_plan
from denoising.train.real_clipping import clipping_for
from denoising.train.resume import Backup, fingerprint


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--model", choices=MODEL_NAMES, required=True)
    parser.add_argument(
        "--level", type=parse_level, help="the noise level (or real); left out for a blind model"
    )
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, help="noisy copies at --level")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--live-dir", type=Path, required=True)
    parser.add_argument(
        "--backup-dir", type=Path, help="where an interrupted run leaves what resumes it"
    )
    parser.add_argument("--loss-plot", type=Path, help="the losses per epoch, as a CSV")
    parser.add_argument("--timings", type=Path, help="how long the fit took (a log, as JSON)")
    args = parser.parse_args(argv)
    if args.level is not None and args.noisy_dir is None:
        parser.error("--noisy-dir is required with --level")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model_params = load_section(args.params, f"models.{args.model}", MODEL_PARAMS[args.model])
    params = training_for(load_section(args.params, "train", TrainParams), model_params)
    noise, seed = load_section(args.params, "noise", NoiseParams), load_seed(args.params)
    params, corruption, targets = training_plan(noise, params, args.level)
    noisy_dir = None if args.level is None else args.noisy_dir
    arrays = open_arrays(args.clean_dir, noisy_dir, params.stream, targets)
    shape = arrays.images.shape[1:3]
    check_shapes(args.model, model_params, shape, arrays.test_shape, params.target)
    check_init(params.init)
    clipping = clipping_for(noise.type, params.target, arrays.noisy)  # real noise that clips
    manifest = args.clean_dir / "manifest.json"
    initial = [Path(params.init) / "model.keras"] if params.init else []
    settings = [vars(args), model_params, params, noise, seed]
    backup = Backup(args.backup_dir, fingerprint(settings, [manifest, *initial]))

    # TensorFlow starts only now, so that a params or shape error shows at once.
    from denoising.quiet import load_tensorflow

    load_tensorflow()
    from denoising.train.fit import fit, save_loss_plot, save_timing, save_trained

    fitted = fit(args.model, model_params, params, arrays, corruption, seed, args.live_dir, backup)
    made = (noise, corruption, seed, fitted, manifest, clipping)
    card = model_card(args.model, model_params, params, *made)
    save_trained(args.model_dir, fitted.model, card)
    if args.loss_plot is not None:
        save_loss_plot(args.loss_plot, fitted.history)
    if args.timings is not None:
        save_timing(args.timings, fitted)
    backup.remove()


if __name__ == "__main__":
    run_stage(main)
