"""Stage denoise: apply the trained model to the noisy train and test sets; score the test set."""

import argparse
import logging
import time
from pathlib import Path

from denoising.ensemble import self_ensemble
from denoising.errors import UserError, run_stage
from denoising.files import atomic_dir, load_json, save_json
from denoising.layout import MISSING_SCORES, SPLITS, level_name, parse_level, reference_file
from denoising.metrics import SplitScores
from denoising.noise_map import with_level
from denoising.params import REAL, DenoiseParams, load_section
from denoising.rows import RowFile, RowWriter, read_rows

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
    told = load_json(args.model.with_name("card.json")).get("level_input", False)

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
    scores = SplitScores(sigma=args.level == REAL)
    loss_sum, predict_seconds, test_images = 0.0, 0.0, 0
    with atomic_dir(args.out_dir) as out_dir:
        for split in SPLITS:
            noisy_file = RowFile(args.noisy_dir / f"{split}.npy")
            writer = RowWriter(out_dir / f"{split}.npy", len(noisy_file), noisy_file.shape[1:])
            # Chunk by chunk, so a split larger than memory streams; the sample is one chunk.
            for rows in noisy_file.chunks():
                noisy = noisy_file[rows]
                started = time.perf_counter()
                denoised = predict(noisy)
                predict_seconds += time.perf_counter() - started
                writer.write(denoised)
                if split == "test":
                    clean = None if reference is None else read_rows(reference, rows)
                    scores.add(clean, {"noisy": noisy, "denoised": denoised})
                    test_images += len(noisy)
                    if clean is not None:  # The model's own loss, without denoise.tta.
                        batch = params.batch_size
                        loss = model.evaluate(inputs(noisy), clean, batch_size=batch, verbose=0)
                        loss_sum += float(loss) * len(clean)
            writer.close()

    metrics = {"model": args.model_name, "noise_level": args.level, "test_images": test_images}
    if reference is None:
        metrics["scores_missing"] = MISSING_SCORES
    else:
        metrics["test_loss"] = loss_sum / test_images
    metrics.update(scores.means())
    save_json(args.metrics, metrics)
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    log.info("predict took %.2f s", predict_seconds)
    if reference is None:
        change = "estimated sigma {sigma_noisy:.4f} -> {sigma_denoised:.4f}"
    else:
        change = "PSNR {psnr_noisy:.2f} -> {psnr_denoised:.2f} dB, SSIM {ssim_noisy:.3f} -> "
        change += "{ssim_denoised:.3f}"
    level = level_name(args.level)
    log.info("%s at level %s: %s", args.model_name, level, change.format(**metrics))


if __name__ == "__main__":
    run_stage(main)
