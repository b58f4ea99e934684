"""Stage denoise: apply the trained model to the noisy train and test sets; score the test set."""

import argparse
import logging
from pathlib import Path

from denoising.cli import run_stage
from denoising.files import SPLITS, atomic_dir, load_array, save_array, save_json
from denoising.metrics import quality
from denoising.params import DenoiseParams, load_section

log = logging.getLogger("denoise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=float, required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--noisy-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    params = load_section(args.params, "denoise", DenoiseParams)

    import keras  # Imported late, so a params error shows before TensorFlow starts.

    model = keras.saving.load_model(args.model, safe_mode=True)
    denoised = {}
    with atomic_dir(args.out_dir) as out_dir:
        for split in SPLITS:
            noisy = load_array(args.noisy_dir / f"{split}.npy")
            denoised[split] = model.predict(noisy, batch_size=params.batch_size, verbose=0)
            save_array(out_dir / f"{split}.npy", denoised[split])

    clean = load_array(args.clean_dir / "test.npy")
    noisy = load_array(args.noisy_dir / "test.npy")
    before, after = quality(clean, noisy), quality(clean, denoised["test"])
    metrics = {
        "model": args.model_name,
        "noise_level": args.level,
        "test_images": len(clean),
        "test_loss": float(model.evaluate(noisy, clean, batch_size=params.batch_size, verbose=0)),
        "psnr_noisy": before["psnr"],
        "psnr_denoised": after["psnr"],
        "ssim_noisy": before["ssim"],
        "ssim_denoised": after["ssim"],
    }
    save_json(args.metrics, metrics)
    log.info(
        "%s at level %g: PSNR %.2f -> %.2f dB, SSIM %.3f -> %.3f",
        args.model_name,
        args.level,
        before["psnr"],
        after["psnr"],
        before["ssim"],
        after["ssim"],
    )


if __name__ == "__main__":
    run_stage(main)
