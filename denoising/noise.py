"""Noise models. Each takes clean images in [0, 1], a level and a NumPy generator."""

from collections.abc import Callable

import numpy as np

from denoising.files import SPLITS


def gaussian(clean: np.ndarray, noise_factor: float, rng: np.random.Generator) -> np.ndarray:
    """The original design's noise: ``clip(clean + noise_factor * N(0, 1), 0, 1)``."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32)
    return np.clip(clean + np.float32(noise_factor) * noise, 0.0, 1.0)


NOISE_MODELS: dict[str, Callable[..., np.ndarray]] = {"gaussian": gaussian}


def noise_rng(seed: int, level: float, split: str) -> np.random.Generator:
    """A generator of its own for each (seed, level, split), so no two arrays share noise."""
    return np.random.default_rng([seed, round(level * 1_000_000), SPLITS.index(split)])


def add_noise(
    clean: np.ndarray, noise_type: str, level: float, rng: np.random.Generator
) -> np.ndarray:
    """Apply the noise model named ``noise_type`` at ``level``; float32 in, float32 out."""
    return NOISE_MODELS[noise_type](clean, level, rng).astype(np.float32, copy=False)
