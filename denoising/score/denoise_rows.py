"""A model run over the pipeline's noisy row files, and scored: every split chunk by chunk, so
that a split larger than memory streams (the sample is one chunk), written to ``<split>.npy``;
the test split scored against its clean references, with the model's own loss beside, or, for
real noise without references, the noise levels estimated before and after."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from denoising.clipping import debias
from denoising.layout import MISSING_SCORES
from denoising.names import SPLITS
from denoising.rows import RowFile, RowWriter, read_rows
from denoising.score.metrics import SplitScores


@dataclass
class Denoised:
    """The test split's scores, the model's mean loss on it (None without references), how many
    test images, and the seconds spent predicting."""

    scores: SplitScores
    test_loss: float | None
    test_images: int
    predict_seconds: float

    def metrics(self, model: str, level: float | str) -> dict:
        """The denoise stage's metrics file: the means of the scores, and the loss; without
        references, why PSNR and SSIM are missing."""
        metrics = {"model": model, "noise_level": level, "test_images": self.test_images}
        if self.test_loss is None:
            metrics["scores_missing"] = MISSING_SCORES
        else:
            metrics["test_loss"] = self.test_loss
        return metrics | self.scores.means()


def change(metrics: dict) -> str:
    """What denoising changed, in a few words: PSNR and SSIM, or the estimated sigma."""
    if "scores_missing" in metrics:
        return "estimated sigma {sigma_noisy:.4f} -> {sigma_denoised:.4f}".format(**metrics)
    text = "PSNR {psnr_noisy:.2f} -> {psnr_denoised:.2f} dB, SSIM {ssim_noisy:.3f} -> "
    text += "{ssim_denoised:.3f}"
    if "psnr_uncorrected" in metrics:
        text += (
            " (the clipped-Gaussian mean inverted, Foi 2009; before: {psnr_uncorrected:.2f} dB)"
        )
    return text.format(**metrics)


def denoise_rows(
    predict: Callable,
    evaluate: Callable,
    noisy_dir: Path,
    out_dir: Path,
    reference: Path | None,
    sigma: bool,
    batch_size: int,
    debias_at: float | None = None,
) -> Denoised:
    """Denoise ``noisy_dir/<split>.npy`` into ``out_dir/<split>.npy`` with ``predict`` (a batch
    of noisy images to denoised ones); score the test split against ``reference`` (None: no
    clean references), ``evaluate(noisy, clean)`` giving the model's loss, and with ``sigma``
    the estimated noise levels too. With ``debias_at`` (a card's correction), the model's
    outputs go through the inverse of the clipped-Gaussian mean at that sigma, and the test
    split is scored before it too (``psnr_uncorrected``, ``ssim_uncorrected``).
    Chunks are whole batches of ``batch_size``, so that the bytes do not depend on the chunk
    size."""
    scores = SplitScores(sigma=sigma)
    loss_sum, predict_seconds, test_images = 0.0, 0.0, 0
    for split in SPLITS:
        noisy_file = RowFile(noisy_dir / f"{split}.npy")
        writer = RowWriter(out_dir / f"{split}.npy", len(noisy_file), noisy_file.shape[1:])
        for rows in noisy_file.chunks(batch_size):
            noisy = noisy_file[rows]
            started = time.perf_counter()
            raw = predict(noisy)
            predict_seconds += time.perf_counter() - started
            denoised = raw if debias_at is None else debias(raw, debias_at)
            writer.write(denoised)
            if split == "test":
                clean = None if reference is None else read_rows(reference, rows)
                before = {} if debias_at is None else {"uncorrected": raw}
                scores.add(clean, {"noisy": noisy, "denoised": denoised, **before})
                test_images += len(noisy)
                if clean is not None:
                    loss_sum += float(evaluate(noisy, clean)) * len(clean)
        writer.close()
    test_loss = None if reference is None else loss_sum / test_images
    return Denoised(scores, test_loss, test_images, predict_seconds)
