"""Training from noisy images alone: the blind-spot masking and its loss (Noise2Void, N2V2), the
losses against noisy targets, the Neighbor2Neighbor sub-sampler and its trainer, and N2V2's U-Net
switches."""

import logging

import numpy as np
import pytest

from denoising.train.batches import NoisyBatches
from denoising.train.blindspot import (
    OFFSETS,
    blind_spot_pair,
    mask_positions,
    masked_loss,
    neighbours,
)
from denoising.train.losses import mean_loss, pixel_error
from denoising.train.neighbors import build_trainer, neighbor_masks, neighbor_pair, subsample
from denoising.train.plan import Corruption

# Every pixel a distinct value, so a value names the position it came from.
DISTINCT = np.arange(3 * 16 * 12, dtype=np.float32).reshape(3, 16, 12, 1) / 1000


def test_mask_positions_are_distinct_counted_and_seeded():
    positions = mask_positions(DISTINCT.shape, 0.05, np.random.default_rng(1))
    assert len(positions) == 3 * round(0.05 * 16 * 12)
    assert len({tuple(p) for p in positions}) == len(positions)
    again = mask_positions(DISTINCT.shape, 0.05, np.random.default_rng(1))
    other = mask_positions(DISTINCT.shape, 0.05, np.random.default_rng(2))
    np.testing.assert_array_equal(positions, again)
    assert not np.array_equal(positions, other)
    # At least one pixel per image, however small the fraction.
    assert len(mask_positions(DISTINCT.shape, 1e-6, np.random.default_rng(1))) == 3


@pytest.mark.parametrize("mode", ["n2v", "n2v2"])
def test_masked_pixels_never_keep_their_own_value(mode):
    inputs, target = blind_spot_pair(DISTINCT, mode, 0.1, np.random.default_rng(3))
    mask = target[..., 1:] == 1
    np.testing.assert_array_equal(target[..., :1], DISTINCT)  # The target is the noisy image.
    np.testing.assert_array_equal(inputs[~mask], DISTINCT[~mask])  # Only masked pixels change.
    assert mask.sum() == 3 * round(0.1 * 16 * 12)
    if mode == "n2v":  # Another pixel's value (a median of the others may equal it on a ramp).
        assert np.all(inputs[mask] != DISTINCT[mask])
    for n, y, x, _ in np.argwhere(mask):
        rows, cols = neighbours(np.array([[n, y, x]]), DISTINCT.shape)
        around = DISTINCT[n, rows[0], cols[0], 0]
        assert (y, x) not in set(zip(rows[0], cols[0], strict=True))
        if mode == "n2v":  # A random neighbour's value, from the 5x5 window.
            assert inputs[n, y, x, 0] in around
        else:  # The median of the window without its centre.
            assert inputs[n, y, x, 0] == pytest.approx(np.median(around))


def test_neighbours_are_mirrored_inside_the_image_at_the_edges():
    rows, cols = neighbours(np.array([[0, 0, 11]]), DISTINCT.shape)
    assert rows.shape == (1, len(OFFSETS)) == (1, 24)
    assert rows.min() >= 0 and rows.max() < 16 and cols.min() >= 0 and cols.max() < 12
    assert not np.any((rows == 0) & (cols == 11))


def test_blind_spot_masks_are_seeded():
    first = blind_spot_pair(DISTINCT, "n2v", 0.05, np.random.default_rng(5))
    again = blind_spot_pair(DISTINCT, "n2v", 0.05, np.random.default_rng(5))
    other = blind_spot_pair(DISTINCT, "n2v", 0.05, np.random.default_rng(6))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("loss", ["mse", "mae", "binary_crossentropy"])
def test_masked_loss_counts_only_the_masked_pixels(loss):
    import keras

    rng = np.random.default_rng(0)
    noisy = rng.uniform(0.1, 0.9, size=(2, 8, 8, 1)).astype(np.float32)
    _, target = blind_spot_pair(noisy, "n2v", 0.1, rng)
    output = rng.uniform(0.1, 0.9, size=noisy.shape).astype(np.float32)
    mask = target[..., 1:] == 1
    changed = np.where(mask, output, 0.5).astype(np.float32)  # Unmasked outputs changed.
    function = masked_loss(loss)
    value = keras.ops.convert_to_numpy(function(target, output))
    np.testing.assert_allclose(value, keras.ops.convert_to_numpy(function(target, changed)))
    errors = {
        "mse": (noisy - output) ** 2,
        "mae": np.abs(noisy - output),
        "binary_crossentropy": -(noisy * np.log(output) + (1 - noisy) * np.log(1 - output)),
    }[loss]
    expected = [errors[i][mask[i]].mean() for i in range(2)]
    np.testing.assert_allclose(value, expected, rtol=1e-4)


def test_binary_cross_entropy_counts_targets_outside_0_1_as_their_nearer_end():
    import keras

    rng = np.random.default_rng(1)
    output = rng.uniform(0.05, 0.95, size=(2, 4, 4, 1)).astype(np.float32)
    target = rng.normal(0.5, 0.8, size=output.shape).astype(np.float32)
    assert target.min() < 0 and target.max() > 1
    error = pixel_error("binary_crossentropy")
    value = keras.ops.convert_to_numpy(error(target, output))
    clipped = np.clip(target, 0, 1)
    expected = -(clipped * np.log(output) + (1 - clipped) * np.log(1 - output))
    np.testing.assert_allclose(value, expected, rtol=1e-4)
    # Bounded below: no output does better than the clipped target itself.
    assert value.min() >= 0
    # Inside [0, 1], Keras's own loss exactly; mean_loss averages it over each image.
    inside = keras.ops.convert_to_numpy(error(clipped, output))
    keras_loss = keras.ops.binary_crossentropy(clipped, output)
    np.testing.assert_array_equal(inside, keras.ops.convert_to_numpy(keras_loss))
    means = keras.ops.convert_to_numpy(mean_loss("binary_crossentropy")(target, output))
    np.testing.assert_allclose(means, expected.mean(axis=(1, 2, 3)), rtol=1e-4)
    # The other losses take the target as it is.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pixel_error("mse")(target, output)), (target - output) ** 2
    )


def test_the_train_log_says_what_binary_cross_entropy_does_to_unclipped_noisy_targets(caplog):
    from types import SimpleNamespace

    from denoising.train.fit import note_clipped_targets

    def said(loss, noise_type, clip, target, levels=0.5):
        caplog.clear()
        corruption = Corruption(noise_type, levels, clip, target)
        with caplog.at_level(logging.INFO, logger="denoising.train.fit"):
            note_clipped_targets(SimpleNamespace(loss=loss), corruption)
        return [(record.levelno, record.getMessage()) for record in caplog.records]

    [(level, message)] = said("binary_crossentropy", "gaussian", False, "n2v2")
    assert level == logging.INFO and "card asks for the clipped mean's inverse" in message
    [(level, message)] = said("binary_crossentropy", "poisson", False, "noisy")
    assert level == logging.WARNING and "no inverse is known for noise.type poisson" in message
    [(level, message)] = said("binary_crossentropy", "gaussian", False, "noisy", [0.1, 0.5])
    assert level == logging.WARNING and "a blind model's level varies" in message
    # Nothing to say for clipped noise, clean targets, or a loss that takes targets as they are.
    assert said("binary_crossentropy", "gaussian", True, "n2v2") == []
    assert said("binary_crossentropy", "gaussian", False, "clean") == []
    assert said("mse", "gaussian", False, "n2v2") == []


def test_neighbor_masks_pick_two_adjacent_pixels_of_every_cell():
    first, second = neighbor_masks((4, 8, 6, 1), np.random.default_rng(0))
    for mask in (first, second):
        cells = mask.reshape(4, 4, 2, 3, 2).sum(axis=(2, 4))
        np.testing.assert_array_equal(cells, 1)
    assert not np.any(first * second)  # Never the same pixel.

    def picked(mask):  # Which pixel of each cell, numbered 2 * row + column.
        return mask.reshape(4, 4, 2, 3, 2).transpose(0, 1, 3, 2, 4).reshape(4, 4, 3, 4).argmax(-1)

    # Beside (bit 0 differs), above or below (bit 1 differs): never diagonal (both differ).
    assert set(np.unique(picked(first) ^ picked(second))) <= {1, 2}
    again = neighbor_masks((4, 8, 6, 1), np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], second)


def test_subsample_takes_the_masked_pixel_of_every_cell():
    first, _ = neighbor_masks((3, 16, 12, 1), np.random.default_rng(1))
    half = subsample(DISTINCT, first)
    assert half.shape == (3, 8, 6, 1)
    np.testing.assert_array_equal(np.sort(half.ravel()), np.sort(DISTINCT[first == 1]))
    packed, target = neighbor_pair(DISTINCT, np.random.default_rng(1))
    assert packed.shape == (3, 16, 12, 3)
    np.testing.assert_array_equal(packed[..., 1:2], first)
    np.testing.assert_array_equal(target, DISTINCT)


def test_self_supervised_batches_never_need_clean_images():
    corruption = Corruption("gaussian", 0.5, True, "n2v", mask_fraction=0.05)
    data = NoisyBatches(None, corruption, 2, seed=3, noisy=DISTINCT)
    inputs, targets = data.batch(0, 0)
    assert inputs.shape == (2, 16, 12, 1) and targets.shape == (2, 16, 12, 2)
    np.testing.assert_array_equal(data.batch(0, 0)[1], targets)
    assert not np.array_equal(data.batch(1, 0)[1][..., 1], targets[..., 1])  # Fresh masks.
    made = next(data.dataset().as_numpy_iterator())
    np.testing.assert_array_equal(made[1], targets)
    ne2ne = NoisyBatches(None, Corruption("gaussian", 0.5, True, "ne2ne"), 2, 3, noisy=DISTINCT)
    assert next(ne2ne.dataset().as_numpy_iterator())[0].shape == (2, 16, 12, 3)


def test_neighbor2neighbor_loss_is_the_papers():
    import keras

    from denoising.params import UnetParams
    from denoising.train.models import build_unet

    keras.utils.set_random_seed(0)
    denoiser = build_unet((None, None, 1), UnetParams(depth=2, base_filters=4))
    trainer = build_trainer(denoiser, 2.0, 10, 4, "mse")
    noisy = np.random.default_rng(0).uniform(size=(2, 12, 12, 1)).astype(np.float32)
    packed, _ = neighbor_pair(noisy, np.random.default_rng(1))
    first, second = packed[..., 1:2], packed[..., 2:3]

    def run(images):  # 6x6 sub-images are mirrored to 8x8 for two poolings, and cropped back.
        h, w = images.shape[1:3]
        padded = np.pad(images, [(0, 0), (0, -h % 4), (0, -w % 4), (0, 0)], mode="reflect")
        return keras.ops.convert_to_numpy(denoiser(padded))[:, :h, :w]

    source, target = subsample(noisy, first), subsample(noisy, second)
    output = run(source)
    whole = run(noisy)
    shifted = target + subsample(whole, first) - subsample(whole, second)
    for weight in (0.0, 2.0):
        expected = np.mean((output - target) ** 2) + weight * np.mean((output - shifted) ** 2)
        value = keras.ops.convert_to_numpy(trainer.objective(packed, weight))
        assert value == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("switches", [{"top_skip": False}, {"pool": "blur"}])
def test_n2v2_unet_switches_keep_the_image_size(switches):
    import keras

    from denoising.params import UnetParams
    from denoising.train.models import build_unet

    params = UnetParams(depth=2, base_filters=4, **switches)
    model = build_unet((None, None, 1), params)
    plain = build_unet((None, None, 1), UnetParams(depth=2, base_filters=4))
    assert model.predict(DISTINCT[:, :16, :12], verbose=0).shape == (3, 16, 12, 1)
    layers = {type(layer).__name__ for layer in model.layers}
    if "pool" in switches:
        assert "AveragePooling2D" in layers
    else:  # One skip connection fewer.
        count = [
            sum(isinstance(x, keras.layers.Concatenate) for x in m.layers) for m in (model, plain)
        ]
        assert count == [1, 2]
