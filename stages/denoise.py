"""Stage denoise: apply the trained model to the noisy train and test sets; score the test set."""

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from denoising.errors import run_stage
from denoising.files import atomic_dir, save_json
from denoising.layout import SPLITS
from denoising.metrics import image_scores
from denoising.params import DenoiseParams, load_section
from denoising.rows import RowFile, RowWriter, read_rows

log = logging.getLogger("denoise")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=float, required=True)
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
    scores = {"psnr_noisy": [], "psnr_denoised": [], "ssim_noisy": [], "ssim_denoised": []}
    loss_sum, predict_seconds = 0.0, 0.0
    with atomic_dir(args.out_dir) as out_dir:
        for split in SPLITS:
            noisy_file = RowFile(args.noisy_dir / f"{split}.npy")
            writer = RowWriter(out_dir / f"{split}.npy", len(noisy_file), noisy_file.shape[1:])
            # Chunk by chunk, so a split larger than memory streams; the sample is one chunk.
            for rows in noisy_file.chunks():
                noisy = noisy_file[rows]
                started = time.perf_counter()
                denoised = model.predict(noisy, batch_size=params.batch_size, verbose=0)
                predict_seconds += time.perf_counter() - started
                writer.write(denoised)
                if split == "test":
                    clean = read_rows(args.clean_dir / "test.npy", rows)
                    for name, estimate in (("noisy", noisy), ("denoised", denoised)):
                        for metric, values in image_scores(clean, estimate).items():
                            scores[f"{metric}_{name}"].append(values)
                    loss = model.evaluate(noisy, clean, batch_size=params.batch_size, verbose=0)
                    loss_sum += float(loss) * len(clean)
            writer.close()

    means = {name: float(np.mean(np.concatenate(values))) for name, values in scores.items()}
    test_images = sum(map(len, scores["psnr_noisy"]))
    metrics = {
        "model": args.model_name,
        "noise_level": args.level,
        "test_images": test_images,
        "test_loss": loss_sum / test_images,
        **means,
    }
    save_json(args.metrics, metrics)
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    log.info("predict took %.2f s", predict_seconds)
    log.info(
        "%s at level %g: PSNR %.2f -> %.2f dB, SSIM %.3f -> %.3f",
        args.model_name,
        args.level,
        means["psnr_noisy"],
        means["psnr_denoised"],
        means["ssim_noisy"],
        means["ssim_denoised"],
    )


if __name__ == "__main__":
    run_stage(main)
