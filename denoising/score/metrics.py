"""Image quality: PSNR and SSIM per image, averaged, on intensities in [0, 1]; and, where there
is no clean reference, the noise level estimated from an image alone."""

from collections import defaultdict

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoising.names import BEST_TABLE
from denoising.sigma import estimated_sigma

DATA_RANGE = 1.0
# PSNR is infinite for an exact copy. JSON has no infinity, so identical images score this cap.
MAX_PSNR = 100.0


def psnr(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """PSNR in dB of each image in ``estimate`` against ``clean``, shape (N,), capped at 100."""
    pairs = zip(clean, estimate, strict=True)
    with np.errstate(divide="ignore"):
        values = [peak_signal_noise_ratio(c, e, data_range=DATA_RANGE) for c, e in pairs]
    return np.minimum(np.array(values, dtype=np.float64), MAX_PSNR)


def ssim(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """SSIM of each (H, W, C) image in ``estimate`` against ``clean``, shape (N,): for colour,
    the mean over the channels (scikit-image's ``channel_axis``)."""
    pairs = zip(clean, estimate, strict=True)
    if clean.shape[-1] > 1:
        values = [
            structural_similarity(c, e, data_range=DATA_RANGE, channel_axis=-1) for c, e in pairs
        ]
    else:
        values = [
            structural_similarity(c[..., 0], e[..., 0], data_range=DATA_RANGE) for c, e in pairs
        ]
    return np.array(values, dtype=np.float64)


def image_scores(clean: np.ndarray, estimate: np.ndarray) -> dict[str, np.ndarray]:
    """PSNR and SSIM of each image of ``estimate`` against ``clean``, computed in float64, so
    that scores of a split taken chunk by chunk can be averaged afterwards."""
    clean = clean.astype(np.float64)
    estimate = estimate.astype(np.float64)
    return {"psnr": psnr(clean, estimate), "ssim": ssim(clean, estimate)}


class SplitScores:
    """Per-image scores of named image sets (noisy, denoised...), added chunk by chunk and
    averaged at the end: PSNR and SSIM against ``clean`` where it is given, and with ``sigma``,
    the estimated noise level of each set (``sigma_<name>``)."""

    def __init__(self, sigma: bool):
        self.sigma, self.values = sigma, defaultdict(list)

    def add(self, clean: np.ndarray | None, named: dict[str, np.ndarray]) -> None:
        for name, images in named.items():
            if clean is not None:
                for metric, values in image_scores(clean, images).items():
                    self.values[f"{metric}_{name}"].append(values)
            if self.sigma:
                self.values[f"sigma_{name}"].append(estimated_sigma(images))

    def means(self) -> dict[str, float]:
        return {name: float(np.mean(np.concatenate(v))) for name, v in self.values.items()}


def quality(clean: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """Mean PSNR and mean SSIM of ``estimate`` against ``clean``, over the images."""
    return {name: float(np.mean(values)) for name, values in image_scores(clean, estimate).items()}


def method_scores(clean: np.ndarray | None, estimate: np.ndarray, sigma: bool) -> dict:
    """One method's entry in compare's and the baselines' scores: mean PSNR and SSIM against
    ``clean`` where there is one, and with ``sigma`` (real noise) the mean estimated noise
    sigma left in ``estimate``, which needs no reference."""
    scores = {} if clean is None else quality(clean, estimate)
    if sigma:
        scores["sigma"] = float(estimated_sigma(estimate).mean())
    return scores


def ranked_methods(scores: dict) -> list[tuple[str, float]]:
    """(method, PSNR) of ``scores``' entries that are {"psnr": ..., "ssim": ...}, models and
    baselines, never the noisy input: best first, ties in name order."""
    scored = [
        (name, value["psnr"])
        for name, value in sorted(scores.items())
        if isinstance(value, dict) and "psnr" in value and name != "noisy"
    ]
    return sorted(scored, key=lambda item: -item[1])


def best_method(scores: dict) -> str:
    """The first of ``ranked_methods``: the highest PSNR, never the noisy input."""
    return ranked_methods(scores)[0][0]


def summary(compared: dict[str, dict]) -> dict[str, dict]:
    """The tables that `dvc metrics show` and `dvc exp show` list, from compare's scores by
    level (``compared``: level -> metrics/compare/<level>.json). One per method, the noisy input
    too: {"psnr": {level: dB}, "ssim": {level: ...}}, or at levels without scores (real noise
    without references) {"sigma": {level: the estimated sigma}}. And ``BEST_TABLE``: the best
    method per level, and the number of test images every score is an average over. A table per
    method makes `dvc metrics show` a row per method and a column per level."""
    tables: dict[str, dict] = {}
    best: dict = {}
    for level, scores in compared.items():
        methods = {name: value for name, value in scores.items() if isinstance(value, dict)}
        for name, value in methods.items():
            for metric in ("psnr", "ssim", "sigma"):
                if metric in value:
                    tables.setdefault(name, {}).setdefault(metric, {})[level] = value[metric]
        if "best_method" in scores:
            best[level] = scores["best_method"]
    images = sorted({scores["images"] for scores in compared.values()})
    counted = images[0] if len(images) == 1 else "/".join(map(str, images))
    tables[BEST_TABLE] = {"test_images": counted}
    if best:
        tables[BEST_TABLE]["best"] = best
    return tables
