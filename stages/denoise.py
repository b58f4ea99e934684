"""Stage denoise: apply the trained model to the noisy train and test sets; score the test set."""

import argparse
import logging
from pathlib import Path

from denoising.cards import card_beside, correction, takes_level
from denoising.command.ensemble import self_ensemble
from denoising.errors import UserError, run_stage
from denoising.files import atomic_dir, save_json
from denoising.layout import reference_file
from denoising.names import REAL, level_name, parse_level
from denoising.noise_map import with_level
from denoising.params import DenoiseParams, load_section
from denoising.rows import RowFile
from denoising.score.denoise_rows import change, denoise_rows

log = logging.getLogger("denoise")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=parse_level, required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "denoise", DenoiseParams)

    from denoising.quiet import load_tensorflow

    load_tensorflow()  # Late, so a params error shows before TensorFlow starts.
    import keras

    model = keras.saving.load_model(args.model, safe_mode=True)
    card = card_beside(args.model)
    told, debias_at = takes_level(card), correction(card)  # debias_at: the clipped mean's sigma

    def inputs(noisy):  # A model trained for many levels may be told this one.
        return with_level(noisy, args.level) if told else noisy

    def predict(batch):
        return model.predict(inputs(batch), batch_size=params.batch_size, verbose=0)

    if params.tta:  # The self-ensemble: the 8 flips and rotations of each image, averaged.
        height, width = RowFile(args.noisy_dir / "test.npy").shape[1:3]
        if height != width and model.input_shape[1] is not None:
            raise UserError(
                f"denoise.tta: model '{args.model_name}' takes only {width}x{height} images, "
                "which rotation turns on their side; set denoise.tta: false"
            )
        predict = self_ensemble(predict)
    # Real noise may have no clean references: then only the estimated noise levels are given.
    reference = reference_file(args.clean_dir, args.level)

    def evaluate(noisy, clean):  # The model's own loss, without denoise.tta.
        return model.evaluate(inputs(noisy), clean, batch_size=params.batch_size, verbose=0)

    with atomic_dir(args.out_dir) as out_dir:
        real = args.level == REAL
        batch, noisy = params.batch_size, args.noisy_dir
        done = denoise_rows(predict, evaluate, noisy, out_dir, reference, real, batch, debias_at)

    metrics = done.metrics(args.model_name, args.level)
    save_json(args.metrics, metrics)
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    log.info("predict took %.2f s", done.predict_seconds)
    log.info("%s at level %s: %s", args.model_name, level_name(args.level), change(metrics))


if __name__ == "__main__":
    run_stage(main)
