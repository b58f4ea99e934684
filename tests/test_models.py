import numpy as np
import pytest

from denoising.params import (
    MODEL_NAMES,
    ConvParams,
    DenseParams,
    DncnnParams,
    DrunetParams,
    TrainParams,
    UnetParams,
    training_for,
)
from denoising.train.models import BUILDERS, build_model, save_model

# Tiny settings, so each model builds and runs in well under a second.
TINY = {
    "dense": DenseParams(hidden=[16]),
    "conv": ConvParams(filters=[4, 4]),
    "dncnn": DncnnParams(depth=3, filters=4, batch_norm=True),
    "unet": UnetParams(depth=2, base_filters=4),
    "drunet": DrunetParams(widths=[4, 8, 8], blocks=1, residual=True),
}


def test_every_param_model_name_has_a_builder():
    assert set(BUILDERS) == set(MODEL_NAMES) == set(TINY)


def test_dense_default_is_the_original_784_128_784_autoencoder():
    model = build_model("dense", DenseParams(hidden=[128]), (28, 28, 1), 0.001, "mse")
    assert model.output_shape == (None, 28, 28, 1)
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [128, 784]
    assert model.count_params() == (784 * 128 + 128) + (128 * 784 + 784)


def test_dense_hidden_widths_are_a_list():
    model = build_model("dense", DenseParams(hidden=[64, 32]), (8, 8, 1), 0.001, "mse")
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [64, 32, 64]


@pytest.mark.parametrize("name", ["conv", "dncnn", "unet", "drunet"])
@pytest.mark.parametrize("shape", [(16, 24), (32, 8)])
def test_convolutional_models_take_any_allowed_size(name, shape):
    # Built for 28x28, then run on other non-square sizes that their poolings allow.
    model = build_model(name, TINY[name], (28, 28, 1), 0.001, "mse")
    batch = np.random.default_rng(0).uniform(size=(2, *shape, 1)).astype(np.float32)
    output = model.predict(batch, verbose=0)
    assert output.shape == batch.shape
    assert output.min() >= 0.0 and output.max() <= 1.0


def test_size_multiple_follows_the_poolings():
    assert ConvParams(filters=[4, 4, 4]).size_multiple == 8
    assert UnetParams(depth=3, base_filters=4).size_multiple == 8
    assert TINY["dncnn"].size_multiple == 1 and not TINY["dncnn"].fixed_size
    assert TINY["dense"].fixed_size
    assert TINY["drunet"].size_multiple == 4


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("unet", UnetParams(depth=2, base_filters=4, residual=True)),
        ("drunet", DrunetParams(widths=[4, 8], blocks=2, residual=True)),
    ],
)
def test_residual_models_subtract_their_predicted_noise(name, params):
    model = build_model(name, params, (16, 16, 1), 0.001, "mse")
    noise_layer = model.get_layer("predicted_noise")
    # With the noise predicted as zero everywhere, the output is the input, clipped.
    noise_layer.set_weights([np.zeros_like(w) for w in noise_layer.get_weights()])
    batch = np.random.default_rng(1).uniform(-0.2, 1.2, size=(2, 16, 24, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(batch, verbose=0), np.clip(batch, 0, 1), atol=1e-6)


def test_drunet_puts_its_width_at_the_lower_scales():
    model = build_model(
        "drunet",
        DrunetParams(widths=[8, 16, 32], blocks=2, residual=True),
        (32, 32, 1),
        0.001,
        "mse",
    )
    convolutions = [layer for layer in model.layers if "conv2d" in layer.name]
    assert {layer.filters for layer in convolutions} >= {8, 16, 32}
    # No batch normalisation, as in DRUNet.
    assert not [layer for layer in model.layers if "batch_normalization" in layer.name]


def test_dncnn_output_is_noisy_minus_predicted_noise_clipped():
    import keras

    model = build_model("dncnn", TINY["dncnn"], (28, 28, 1), 0.001, "mse")
    noise_branch = keras.Model(model.input, model.get_layer("predicted_noise").output)
    noisy = np.random.default_rng(1).uniform(size=(2, 12, 12, 1)).astype(np.float32)
    expected = np.clip(noisy - noise_branch.predict(noisy, verbose=0), 0.0, 1.0)
    np.testing.assert_allclose(model.predict(noisy, verbose=0), expected, atol=1e-6)


def test_model_section_overrides_training_knobs():
    train = TrainParams(
        models=["conv"],
        blind_models=[],
        noise_range=[0.2, 0.9],
        blind_epochs=20,
        level_input=True,
        fresh_noise=False,
        augment=False,
        schedule="constant",
        target="clean",
        mask_fraction=0.02,
        ne2ne_gamma=2.0,
        epochs=10,
        batch_size=256,
        learning_rate=0.001,
        loss="binary_crossentropy",
        validation_split=0.1,
        patience=0,
        init="",
        mixed_precision=False,
        jit_compile=False,
        distribute="auto",
        stream="auto",
    )
    resolved = training_for(train, ConvParams(filters=[4], batch_size=32))
    assert (resolved.epochs, resolved.batch_size, resolved.learning_rate) == (10, 32, 0.001)


def test_saved_model_has_the_same_bytes_each_time_and_loads_safely(tmp_path):
    import keras

    model = build_model("unet", TINY["unet"], (12, 8, 1), 0.001, "mse")
    save_model(model, tmp_path / "a.keras")
    save_model(model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    loaded = keras.saving.load_model(tmp_path / "a.keras", safe_mode=True)
    batch = np.random.default_rng(0).uniform(size=(3, 12, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]


def test_train_refuses_shapes_the_model_cannot_take_in_one_line():
    from denoising.errors import UserError
    from denoising.train.plan import check_shapes

    conv, dense = ConvParams(filters=[4, 4]), TINY["dense"]
    check_shapes("conv", conv, (64, 64), (128, 128))  # patches and larger test crops: fine
    with pytest.raises(UserError, match=r"test images are 126x126.*multiples of 4.*test_crop"):
        check_shapes("conv", conv, (64, 64), (126, 126))
    with pytest.raises(UserError, match=r"'dense' takes only its training size, 64x64.*128x128"):
        check_shapes("dense", dense, (64, 64), (128, 128))
    check_shapes("dense", dense, (28, 28), (28, 28))


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_model_with_a_level_input_takes_one_channel_more_and_uses_it(name):
    """The noise level is one channel after the image's; the output is the image's channels,
    and it changes with the level the model is told."""
    from denoising.noise_map import with_level

    model = build_model(name, TINY[name], (16, 16, 1), 0.001, "mse", level_input=True)
    assert model.input_shape[-1] == 2 and model.output_shape[-1] == 1
    rng = np.random.default_rng(2)
    if any(layer.name == "predicted_noise" for layer in model.layers):
        # A residual model's noise layer starts at zero (the identity); as if trained:
        noise = model.get_layer("predicted_noise")
        noise.set_weights([rng.normal(0, 0.1, w.shape) for w in noise.get_weights()])
    noisy = rng.uniform(size=(2, 16, 16, 1)).astype(np.float32)
    low, high = (model.predict(with_level(noisy, level), verbose=0) for level in (0.05, 0.5))
    assert low.shape == noisy.shape
    assert not np.allclose(low, high)


@pytest.mark.parametrize("name", ["dncnn", "unet", "drunet"])
def test_residual_output_subtracts_from_the_image_not_the_level(name):
    from denoising.noise_map import with_level

    params = {"unet": UnetParams(depth=2, base_filters=4, residual=True)}.get(name, TINY[name])
    model = build_model(name, params, (16, 16, 1), 0.001, "mse", level_input=True)
    noise_layer = model.get_layer("predicted_noise")
    noise_layer.set_weights([np.zeros_like(w) for w in noise_layer.get_weights()])
    noisy = np.random.default_rng(3).uniform(-0.2, 1.2, size=(2, 16, 16, 1)).astype(np.float32)
    output = model.predict(with_level(noisy, 0.3), verbose=0)
    np.testing.assert_allclose(output, np.clip(noisy, 0, 1), atol=1e-6)


def test_with_level_appends_each_images_level_as_a_constant_channel():
    from denoising.noise_map import conditioned, with_level

    images = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4, 1)
    levels = np.array([0.1, 0.4], dtype=np.float32).reshape(2, 1, 1, 1)
    joined = with_level(images, levels)
    assert joined.shape == (2, 3, 4, 2) and joined.dtype == np.float32
    np.testing.assert_array_equal(joined[..., :1], images)
    assert (joined[0, ..., 1] == np.float32(0.1)).all() and (joined[1, ..., 1] == 0.4).all()
    seen = conditioned(lambda batch: batch[..., 1:], 0.25)(images)
    assert seen.shape == images.shape and (seen == 0.25).all()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("dncnn", TINY["dncnn"]),
        ("unet", UnetParams(depth=2, base_filters=4, residual=True)),
        ("drunet", DrunetParams(widths=[8, 16, 32], blocks=2, residual=True)),
    ],
)
def test_a_new_residual_model_starts_as_the_identity(name, params):
    """Its noise layer starts at zero: a random one could predict more noise than the image
    holds everywhere, and the clip at 0 would then stop every gradient (an all-black model)."""
    model = build_model(name, params, (32, 32, 1), 0.001, "mae")
    batch = np.random.default_rng(4).uniform(size=(2, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(batch, verbose=0), batch, atol=1e-6)
