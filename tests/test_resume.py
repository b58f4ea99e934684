"""Resume and fine-tuning: a training killed with SIGKILL part-way continues at its last finished
epoch and ends with the same bytes as an uninterrupted run (through the stage script, and
through `dvc repro`); ``train.init`` starts from a trained model's weights."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from denoising.errors import UserError
from denoising.train.resume import FINGERPRINT, LOGS, METADATA, WEIGHTS, Backup
from tests.helpers import REPO, dvc, make_project, pipeline_env, write_digit_like_images

EPOCHS = 30


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    """Preprocessed arrays and noisy copies at 0.5 of 48 tiny images, and params that train
    conv for ``EPOCHS`` short epochs."""
    from stages import add_noise, preprocess

    root = tmp_path_factory.mktemp("resume")
    write_digit_like_images(root / "images/train", 48, seed=3)
    write_digit_like_images(root / "images/test", 8, seed=4)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["dir"] = str(root / "images")
    params["train"].update(epochs=EPOCHS, batch_size=16, schedule="cosine")
    params["models"]["conv"].update(filters=[4, 4])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", str(root / "params.yaml")]
    preprocess.main([*common, "--out-dir", str(root / "clean")])
    level = ["--level", "0.5", "--clean-dir", str(root / "clean")]
    add_noise.main([*common, *level, "--out-dir", str(root / "noisy")])
    return root


def train_command(root, params, out, backup=None):
    command = [sys.executable, "-m", "stages.train", "--params", params, "--model", "conv"]
    command += ["--level", "0.5", "--clean-dir", root / "clean", "--noisy-dir", root / "noisy"]
    command += ["--model-dir", out / "model", "--live-dir", out / "live"]
    command += ["--loss-plot", out / "loss.csv"]
    command += [] if backup is None else ["--backup-dir", backup]
    return [str(part) for part in command]


def run_to_end(command):
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def finished_epoch(metadata):
    """The epoch that Keras' backup metadata records, or None while it is missing or half
    written (Keras writes it in place)."""
    try:
        return json.loads(metadata.read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return None


def kill_after_first_epochs(command, backup, cwd=REPO, env=None):
    """Start ``command`` in ``cwd``, SIGKILL its whole process group once ``backup`` holds a
    finished epoch, and return that epoch count (asserted to be part-way)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metadata = backup / METADATA
    deadline = time.monotonic() + 300
    while finished_epoch(metadata) is None:
        assert process.poll() is None, "the training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    epoch = json.loads(metadata.read_text())["epoch"]
    assert 1 <= epoch < EPOCHS
    return epoch


@pytest.mark.parametrize(
    "train",
    [
        {"fresh_noise": False},  # Keras' own array batches
        {"fresh_noise": True},  # tf.data's
        {"fresh_noise": True, "mixed_precision": "bfloat16"},
        {"target": "ne2ne"},  # its own train_step, and a regulariser weight that grows by epoch
    ],
    ids=["fixed-noise", "fresh-noise", "bfloat16", "ne2ne"],
)
def test_a_killed_training_resumes_to_the_same_bytes(arrays, tmp_path, train):
    params = yaml.safe_load((arrays / "params.yaml").read_text())
    params["train"].update(train)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    whole, resumed, backup = tmp_path / "whole", tmp_path / "resumed", tmp_path / "backup"
    run_to_end(train_command(arrays, tmp_path / "params.yaml", whole))

    command = train_command(arrays, tmp_path / "params.yaml", resumed, backup)
    epoch = kill_after_first_epochs(command, backup)
    assert not (resumed / "model").exists()
    log = run_to_end(command)

    assert f"resuming from {backup} at epoch {epoch + 1}" in log
    assert digest(resumed / "model/model.keras") == digest(whole / "model/model.keras")
    assert (resumed / "model/card.json").read_text() == (whole / "model/card.json").read_text()
    losses = (resumed / "live/plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert len(losses) == EPOCHS + 1  # The header, then every epoch, the replayed ones too.
    # The chart's CSV too: a line per epoch and curve, the same as the uninterrupted run's.
    chart = (resumed / "loss.csv").read_text()
    assert chart == (whole / "loss.csv").read_text()
    assert chart.count(",training,") == chart.count(",validation,") == EPOCHS
    assert not backup.exists()


def backup_folder(folder, epochs=3, logs=3):
    import h5py

    folder.mkdir()
    (folder / METADATA).write_text(json.dumps({"epoch": epochs, "batch": 0}))
    (folder / FINGERPRINT).write_text("old")
    (folder / LOGS).write_text('{"loss": 1.0}\n' * logs)
    with h5py.File(folder / WEIGHTS, "w") as file:
        file["w"] = np.zeros(3)
    return folder


def test_a_backup_from_other_params_is_discarded(tmp_path):
    folder = backup_folder(tmp_path / "b")
    assert Backup(folder, "old").start_epoch == 3
    assert Backup(folder, "new").start_epoch == 0
    assert not folder.exists()


@pytest.mark.parametrize("torn", ["logs", "weights"])
def test_a_torn_backup_is_discarded_not_a_traceback(tmp_path, torn):
    """A kill while the backup was being written: fewer logs than epochs, or a weights file cut
    short. The next run starts afresh."""
    folder = backup_folder(tmp_path / "b", logs=2 if torn == "logs" else 3)
    if torn == "weights":
        whole = (folder / WEIGHTS).read_bytes()
        (folder / WEIGHTS).write_bytes(whole[: len(whole) // 2])
    assert Backup(folder, "old").start_epoch == 0
    assert not folder.exists()


def test_train_init_starts_from_the_given_model(arrays, tmp_path):
    """With a learning rate too small to move anything, a model started from another one ends
    with that one's weights; without train.init, it does not."""
    import keras

    params = yaml.safe_load((arrays / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    (tmp_path / "start.yaml").write_text(yaml.safe_dump(params))
    run_to_end(train_command(arrays, tmp_path / "start.yaml", tmp_path / "start"))
    params["train"]["learning_rate"] = 1e-12
    params["train"]["init"] = str(tmp_path / "start/model")
    params["seed"] = 1  # Another seed: the random start would differ.
    (tmp_path / "init.yaml").write_text(yaml.safe_dump(params))
    log = run_to_end(train_command(arrays, tmp_path / "init.yaml", tmp_path / "tuned"))
    assert "starting from the weights of" in log

    def weights(name):
        return keras.models.load_model(tmp_path / name / "model/model.keras").get_weights()

    for started, tuned in zip(weights("start"), weights("tuned"), strict=True):
        np.testing.assert_allclose(tuned, started, atol=1e-6)
    card = json.loads((tmp_path / "tuned/model/card.json").read_text())
    assert card["train"]["init"] == str(tmp_path / "start/model")


@pytest.mark.parametrize(
    "init, change, message",
    [
        ("missing", {}, "train.init: {init}: no model.keras there"),
        ("start/model", {"filters": [8, 8]}, "does not match models.conv"),
    ],
)
def test_train_init_that_cannot_start_a_model_is_one_line(arrays, tmp_path, init, change, message):
    from stages import train

    params = yaml.safe_load((arrays / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_to_end(train_command(arrays, tmp_path / "params.yaml", tmp_path / "start"))
    params["train"]["init"] = str(tmp_path / init)
    params["models"]["conv"].update(change)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError, match=message.format(init=tmp_path / init)) as error:
        train.main(train_command(arrays, tmp_path / "bad.yaml", tmp_path / "bad")[3:])
    assert "\n" not in str(error.value)


@pytest.mark.e2e
def test_dvc_repro_after_kill_minus_9_resumes_to_the_same_bytes(tmp_path):
    """`dvc repro` killed (SIGKILL, the whole process group) during training, then `dvc repro`
    again: it resumes, and the model is the same bytes as a run never interrupted."""
    write_digit_like_images(tmp_path / "data/train", 48, seed=5)
    write_digit_like_images(tmp_path / "data/test", 8, seed=6)
    project = make_project(
        tmp_path / "project",
        tmp_path / "data",
        [0.5],
        ["conv"],
        train={"epochs": EPOCHS, "fresh_noise": True, "augment": True},
        baselines={"methods": ["median"]},
    )
    stage, model = "train@conv-0.5", project / "models/conv/0.5/model.keras"
    command = [sys.executable, "-m", "dvc", "repro", stage]
    backup = project / ".resume/conv/0.5"
    kill_after_first_epochs(command, backup, project, pipeline_env())
    assert not model.exists()
    dvc(project, "repro")
    assert not backup.exists()
    resumed = digest(model)
    dvc(project, "repro", "--force", "--single-item", stage)
    assert digest(model) == resumed


@pytest.mark.parametrize("written", ["", '{"epo', '{"other": 1}'])
def test_a_backup_whose_metadata_was_cut_mid_write_starts_afresh(tmp_path, written):
    """Keras writes its metadata in place: a kill mid-write leaves it empty or cut, and the next
    run starts afresh instead of stopping on it."""
    from denoising.train import resume

    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / resume.FINGERPRINT).write_text("same")
    (folder / resume.METADATA).write_text(written)
    (folder / resume.LOGS).write_text('{"loss": 1.0}\n')
    backup = resume.Backup(folder, "same")
    assert backup.start_epoch == 0 and backup.logs == []
    assert not (folder / resume.METADATA).exists()


def test_a_blind_model_starts_a_model_without_the_level_input_as_if_told_level_0(tmp_path):
    """train.init from a blind model (the noise level as its last input channel) into the same
    architecture without it: the first layer drops that channel's weights, so the new model
    gives what the blind model gives when told level 0."""
    import keras

    from denoising.noise_map import with_level
    from denoising.params import DrunetParams
    from denoising.train.fit import load_initial_weights
    from denoising.train.models import build_model, save_model

    params = DrunetParams(widths=[4, 8], blocks=1, residual=True)
    keras.utils.set_random_seed(0)
    blind = build_model("drunet", params, (None, None, 3), 1e-3, "mae", level_input=True)
    # Every weight random, the zero-initialised noise layer too, so the output shows them all.
    blind.set_weights(
        [0.1 * np.random.default_rng(i).normal(size=w.shape) for i, w in enumerate(blind.weights)]
    )
    (tmp_path / "blind").mkdir()
    save_model(blind, tmp_path / "blind/model.keras")
    plain = build_model("drunet", params, (None, None, 3), 1e-3, "mae")
    load_initial_weights(plain, "drunet", tmp_path / "blind")
    image = np.random.default_rng(9).uniform(size=(1, 16, 16, 3)).astype(np.float32)
    told_zero = blind.predict_on_batch(with_level(image, 0.0))
    assert len(np.unique(np.round(told_zero, 3))) > 100  # Not clipped flat: it shows the weights.
    np.testing.assert_allclose(plain.predict_on_batch(image), told_zero, atol=1e-5)
