"""Every noise type, a blind model and Noise2Noise, run through the real stage scripts on tiny
data, in this process (TensorFlow starts once, not once per stage)."""

import importlib
import json
import logging

import numpy as np
import pytest
import yaml

from denoising.errors import UserError
from denoising.files import load_array
from denoising.names import SELF_SUPERVISED
from denoising.params import NOISE_TYPES
from tests.helpers import REPO, write_digit_like_images


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise")
    write_digit_like_images(root / "images/train", 24, seed=7)
    write_digit_like_images(root / "images/test", 8, seed=8)
    return root


def call(monkeypatch, stage, *args):
    importlib.import_module(f"stages.{stage}").main([str(arg) for arg in args])


def pipeline(
    monkeypatch, root, name, noise, train, blind=False, model="dense", tta=False, data=None
):
    """preprocess, add_noise, train and denoise at level 0.5; returns the denoise metrics.
    Self-supervised targets train with the clean training images deleted: they never read
    them."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update({"dir": str(root / "images"), **(data or {})})
    params["noise"].update(noise)
    params["train"].update({"epochs": 1, "blind_epochs": 1, "batch_size": 8, **train})
    params["denoise"]["tta"] = tta
    for knob in ("epochs", "batch_size"):  # The model's own overrides give way to these.
        params["models"][model].pop(knob, None)
    work = root / name
    work.mkdir()
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", work / "params.yaml"]
    call(monkeypatch, "preprocess", *common, "--out-dir", work / "clean")
    call(
        monkeypatch,
        "add_noise",
        *common,
        "--level",
        0.5,
        "--clean-dir",
        work / "clean",
        "--out-dir",
        work / "noisy",
    )
    level = [] if blind else ["--level", 0.5, "--noisy-dir", work / "noisy"]
    if train.get("target") in SELF_SUPERVISED:
        (work / "clean/train.npy").unlink()
    call(
        monkeypatch,
        "train",
        *common,
        "--model",
        model,
        *level,
        "--clean-dir",
        work / "clean",
        "--model-dir",
        work / "model",
        "--live-dir",
        work / "live",
    )
    call(
        monkeypatch,
        "denoise",
        *common,
        "--level",
        0.5,
        "--model-name",
        model,
        "--model",
        work / "model/model.keras",
        "--clean-dir",
        work / "clean",
        "--noisy-dir",
        work / "noisy",
        "--out-dir",
        work / "denoised",
        "--metrics",
        work / "metrics.json",
    )
    card = json.loads((work / "model/card.json").read_text())
    noisy = load_array(work / "noisy/train.npy")
    assert noise.get("clip", True) == (0.0 <= noisy.min() and noisy.max() <= 1.0)
    return json.loads((work / "metrics.json").read_text()), card


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
def test_each_noise_type_runs_end_to_end(monkeypatch, data, noise_type):
    metrics, card = pipeline(monkeypatch, data, noise_type, {"type": noise_type}, {})
    assert card["noise"] == {"type": noise_type, "clip": True, "level": 0.5}
    assert metrics["psnr_noisy"] < 100 and metrics["psnr_denoised"] > 0


def test_blind_noise2noise_model_with_fresh_unclipped_noise(monkeypatch, data):
    train = {"target": "noisy", "fresh_noise": True, "noise_range": [0.2, 0.9], "loss": "mse"}
    metrics, card = pipeline(monkeypatch, data, "blind", {"clip": False}, train, blind=True)
    assert card["noise"] == {"type": "gaussian", "clip": False, "range": [0.2, 0.9]}
    assert card["train"]["target"] == "noisy"
    # Validation on noisy pairs: the loss includes the target's own noise, so it cannot be
    # small: at least the variance of the lowest level in the range.
    assert card["best_val_loss"] > 0.2**2
    assert metrics["noise_level"] == 0.5
    assert card["level_input"]  # Told each image's level, at training and at denoising.


@pytest.mark.parametrize("level_input", [True, False])
def test_blind_models_are_told_the_level_when_level_input(monkeypatch, data, level_input):
    train = {"noise_range": [0.1, 0.9], "level_input": level_input}
    name = f"blind-level-{level_input}"
    metrics, card = pipeline(monkeypatch, data, name, {}, train, blind=True, model="unet")
    assert card["level_input"] is level_input
    assert card["noise"]["range"] == [0.1, 0.9]
    assert metrics["psnr_denoised"] > metrics["psnr_noisy"] - 10
    import keras

    model = keras.saving.load_model(data / name / "model/model.keras")
    assert model.input_shape[-1] == 1 + level_input


def test_models_for_one_level_take_no_level_channel(monkeypatch, data):
    _, card = pipeline(monkeypatch, data, "one-level", {}, {"level_input": True}, model="unet")
    assert card["level_input"] is False


def test_photo_recipe_switches_run_through_the_stages_reproducibly(monkeypatch, data):
    train = {"augment": True, "schedule": "cosine", "loss": "mae"}
    first, card = pipeline(monkeypatch, data, "recipe", {}, train)
    again, _ = pipeline(monkeypatch, data, "recipe-again", {}, train)
    assert card["train"]["augment"] and card["train"]["schedule"] == "cosine"
    assert card["data"]["mode"] == "resize" and card["data"]["images"] == 24
    import keras

    # Compared as weights: in one process, Keras numbers the second run's layer names.
    names = ("recipe", "recipe-again")
    models = [keras.saving.load_model(data / name / "model/model.keras") for name in names]
    for ours, theirs in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert first == again


@pytest.mark.parametrize("precision", [True, "bfloat16"], ids=["float16", "bfloat16"])
def test_accelerator_switches_train_on_the_cpu(monkeypatch, data, precision):
    import keras

    train = {"mixed_precision": precision, "jit_compile": True}
    try:
        metrics, card = pipeline(monkeypatch, data, f"accelerated-{precision}", {}, train)
        policy = keras.mixed_precision.global_policy().name
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert policy == {True: "mixed_float16", "bfloat16": "mixed_bfloat16"}[precision]
    assert card["train"]["mixed_precision"] == precision and card["train"]["jit_compile"]
    assert metrics["psnr_denoised"] > 0


@pytest.mark.parametrize("blind", [False, True])
def test_streamed_training_batches_from_disk(monkeypatch, data, blind, caplog):
    caplog.set_level("INFO")
    name = f"streamed-{'blind' if blind else 'fixed'}"
    metrics, card = pipeline(monkeypatch, data, name, {}, {"stream": "on"}, blind=blind)
    assert "streamed from disk" in caplog.text
    assert (
        card["train"]["stream"] == "on" and card["train_images"] + card["validation_images"] == 24
    )
    assert metrics["psnr_denoised"] > 0
    # Streamed training is seeded too: a second run gives the same weights. (Not the same file
    # bytes: in one process, Keras numbers the second model's layers flatten_1, adam_1...)
    again, _ = pipeline(monkeypatch, data, f"{name}-again", {}, {"stream": "on"}, blind=blind)
    assert again == metrics
    import keras

    first, second = (
        keras.saving.load_model(data / run / "model/model.keras").get_weights()
        for run in (name, f"{name}-again")
    )
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_add_noise_streams_in_chunks_with_the_same_bytes(monkeypatch, data):
    pipeline(monkeypatch, data, "chunked-whole", {}, {})
    monkeypatch.setattr("denoising.rows.CHUNK_BYTES", 32 * 32 * 4 * 5)  # 5 images a chunk
    pipeline(monkeypatch, data, "chunked-small", {}, {})
    for split in ("train", "test"):
        whole = (data / "chunked-whole" / f"noisy/{split}.npy").read_bytes()
        assert (data / "chunked-small" / f"noisy/{split}.npy").read_bytes() == whole
        whole = (data / "chunked-whole" / f"denoised/{split}.npy").read_bytes()
        assert (data / "chunked-small" / f"denoised/{split}.npy").read_bytes() == whole


@pytest.mark.parametrize("target", SELF_SUPERVISED)
def test_self_supervised_targets_train_on_noisy_images_alone(monkeypatch, data, target):
    train = {"target": target, "loss": "mse", "epochs": 2}
    metrics, card = pipeline(monkeypatch, data, target, {}, train, model="unet")
    assert card["train"]["target"] == target and card["epochs_run"] == 2
    assert np.isfinite(card["best_val_loss"])
    # Scored against the clean test images like any model: the saved model has a plain loss.
    assert np.isfinite(metrics["test_loss"]) and metrics["psnr_denoised"] > 0
    # Clipped noise (the default): the card asks for the clipped mean's inverse, the stage
    # applies it and scores the test split before it too.
    assert card["correction"] == {"inverts": "clipped-gaussian-mean", "sigma": 0.5}
    assert np.isfinite(metrics["psnr_uncorrected"]) and "ssim_uncorrected" in metrics


@pytest.mark.parametrize("target", ["noisy", "n2v2"])
def test_binary_cross_entropy_on_unclipped_noisy_targets_asks_for_the_correction(
    monkeypatch, data, target, caplog
):
    """It counts targets outside [0, 1] as 0 or 1 (train.losses), so the model learns the
    clipped mean, and the card asks for its inverse; the log says so."""
    train = {"target": target, "loss": "binary_crossentropy", "epochs": 2}
    with caplog.at_level(logging.INFO):
        name = f"unclipped-bce-{target}"
        metrics, card = pipeline(monkeypatch, data, name, {"clip": False}, train, model="unet")
    assert card["correction"] == {"inverts": "clipped-gaussian-mean", "sigma": 0.5}
    assert np.isfinite(card["best_val_loss"]) and np.isfinite(metrics["psnr_uncorrected"])
    assert "its card asks for the clipped mean's inverse" in caplog.text
    # Saved with the plain loss, as every model is, so it loads without the training loss.
    import keras

    model = keras.saving.load_model(data / name / "model/model.keras")
    assert model.loss == "binary_crossentropy"


def test_unclipped_noise_and_clean_targets_need_no_correction(monkeypatch, data):
    unclipped = {"target": "n2v2", "loss": "mse"}
    metrics, card = pipeline(
        monkeypatch, data, "unclipped", {"clip": False}, unclipped, model="unet"
    )
    assert "correction" not in card and "psnr_uncorrected" not in metrics
    metrics, card = pipeline(monkeypatch, data, "clean-target", {}, {})
    assert "correction" not in card and "psnr_uncorrected" not in metrics


def test_denoise_stage_self_ensemble(monkeypatch, data):
    plain, _ = pipeline(monkeypatch, data, "plain", {}, {}, model="unet")
    averaged, _ = pipeline(monkeypatch, data, "tta", {}, {}, model="unet", tta=True)
    # The same model (same seed), its outputs averaged over the 8 flips and rotations.
    assert averaged["psnr_noisy"] == plain["psnr_noisy"]
    assert averaged["psnr_denoised"] != plain["psnr_denoised"]
    assert averaged["psnr_denoised"] > plain["psnr_denoised"] - 0.5


def test_denoise_stage_self_ensemble_refuses_a_fixed_size_model_on_non_square_images(
    monkeypatch, data
):
    with pytest.raises(UserError, match="denoise.tta: model 'dense' takes only 32x28 images"):
        pipeline(monkeypatch, data, "oblong", {}, {}, tta=True, data={"image_size": [28, 32]})
