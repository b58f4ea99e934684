"""Shared fixtures: tiny, seeded image folders and tiny models written to a temporary path."""

from pathlib import Path

import pytest

from tests.helpers import save_with_card, write_digit_like_images


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A dataset folder with train/ (24 images) and test/ (8 images)."""
    write_digit_like_images(tmp_path / "train", 24, seed=1)
    write_digit_like_images(tmp_path / "test", 8, seed=2)
    return tmp_path


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """An identity model (so outputs must equal inputs), a small conv and a 28x28 dense."""
    root = tmp_path_factory.mktemp("models")
    import keras
    from keras import layers

    from denoising.params import ConvParams, DenseParams
    from denoising.train.models import build_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None, None, 1))
    identity = keras.Model(inputs, layers.Identity()(inputs), name="identity")
    conv = build_model("conv", ConvParams(filters=[4, 4]), (28, 28, 1), 1e-3, "mse")
    dense = build_model("dense", DenseParams(hidden=[16]), (28, 28, 1), 1e-3, "mse")
    return {
        "identity": save_with_card(identity, root / "identity", "any", 1),
        "conv": save_with_card(conv, root / "conv", "any", 4),
        "dense": save_with_card(dense, root / "dense", [28, 28, 1], 1),
    }
