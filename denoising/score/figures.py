"""Matplotlib figures: sample grids of original, noisy and denoised images."""

import matplotlib

matplotlib.use("Agg")  # Stages run headless, under DVC, with no display.

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def score_label(name: str, scores: dict | None) -> str:
    """A row's label: its name, and under it its scores from compare (PSNR in dB and SSIM, or
    with no clean reference the estimated noise sigma), where there are any."""
    if scores and "psnr" in scores:
        return f"{name}\n{scores['psnr']:.1f} dB, {scores['ssim']:.2f}"
    if scores and "sigma" in scores:
        return f"{name}\nsigma {scores['sigma']:.3f}"
    return name


def sample_grid(rows: dict[str, np.ndarray], title: str) -> plt.Figure:
    """One row per entry of ``rows`` (label -> (N, H, W, C) images, grey or colour), one column
    per image."""
    n_rows, n_cols = len(rows), len(next(iter(rows.values())))
    figure, axes = plt.subplots(
        n_rows, n_cols, figsize=(1.2 * n_cols, 1.3 * n_rows), squeeze=False
    )
    for row, (label, images) in enumerate(rows.items()):
        for col, image in enumerate(images):
            axis = axes[row, col]
            if image.shape[-1] == 1:
                axis.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            else:
                axis.imshow(np.clip(image, 0.0, 1.0))
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(label, rotation=90, fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
