"""Bad params stop a stage with one line per problem that names the key, and exit code 2."""

import re

import pytest
import yaml

from denoising.errors import UserError
from denoising.params import ConvParams, DenseParams, TrainParams, load_section, validate_params
from tests.helpers import REPO, stage_process

DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())


def write_params(tmp_path, section, key, value):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_defaults_are_the_original_design():
    assert DEFAULTS["data"]["image_size"] == [28, 28]
    assert DEFAULTS["noise"] == {"type": "gaussian", "levels": [0.3, 0.5, 0.8], "clip": True}
    train = load_section(REPO / "params.yaml", "train", TrainParams)
    assert (train.models, train.epochs, train.batch_size) == (["dense", "unet"], 10, 256)
    assert (train.loss, train.learning_rate, train.patience) == ("binary_crossentropy", 0.001, 0)
    assert (train.fresh_noise, train.target) == (False, "clean")
    dense = load_section(REPO / "params.yaml", "models.dense", DenseParams)
    assert dense == DenseParams(hidden=[128]), "dense must train with train's own knobs"


def test_model_section_is_checked_like_any_other(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["models"]["conv"].update(filters=[], epochs=0, dropout=0.5)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(UserError) as error:
        load_section(path, "models.conv", ConvParams)
    lines = str(error.value).splitlines()
    assert len(lines) == 3
    assert any("models.conv.dropout: unknown key" in line for line in lines)
    assert any("models.conv.filters: [] is not allowed" in line for line in lines)
    assert any("models.conv.epochs: 0 is not allowed" in line for line in lines)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("epochs", 0, "train.epochs: 0 is not allowed; it must be an integer >= 1"),
        ("epochs", True, "train.epochs: True is not allowed"),
        (
            "models",
            ["dense", "resnet"],
            "train.models: ['dense', 'resnet'] is not allowed; it must be a non-empty list of "
            "distinct names from dense, conv, dncnn, unet, drunet",
        ),
        ("loss", "hinge", "train.loss: 'hinge' is not allowed; it must be one of"),
        ("learning_rate", -1, "train.learning_rate: -1 is not allowed; it must be a number > 0"),
        ("validation_split", 1.0, "train.validation_split: 1.0 is not allowed"),
        ("patience", -1, "train.patience: -1 is not allowed; it must be an integer >= 0"),
        ("target", "both", "train.target: 'both' is not allowed; it must be one of clean, noisy"),
        ("noise_range", [0.9, 0.2], "train.noise_range: [0.9, 0.2] is not allowed; it must be"),
        ("blind_models", ["conv", "conv"], "train.blind_models: ['conv', 'conv'] is not allowed"),
        ("epoch", 5, "train.epoch: unknown key; known keys are models, blind_models"),
        (
            "mixed_precision",
            "float16",
            "train.mixed_precision: 'float16' is not allowed; it must be false, true (float16, "
            "GPUs) or bfloat16",
        ),
        ("mixed_precision", 1, "train.mixed_precision: 1 is not allowed"),
        ("init", None, "train.init: None is not allowed; it must be a folder with a trained"),
    ],
)
def test_bad_train_param_is_one_clear_line(tmp_path, key, value, message):
    path = write_params(tmp_path, "train", key, value)
    with pytest.raises(UserError) as error:
        load_section(path, "train", TrainParams)
    assert len(str(error.value).splitlines()) == 1
    assert message in str(error.value)


def test_unquoted_on_off_read_as_the_words(tmp_path):
    # YAML (and `dvc exp run -S train.stream=off`) turns a bare off into False.
    path = tmp_path / "params.yaml"
    text = (REPO / "params.yaml").read_text()
    path.write_text(text.replace("  stream: auto", "  stream: off"))
    assert load_section(path, "train", TrainParams).stream == "off"
    path.write_text(text.replace("  distribute: auto", "  distribute: on"))
    with pytest.raises(UserError, match="train.distribute: 'on' is not allowed; it must be auto"):
        load_section(path, "train", TrainParams)


@pytest.mark.parametrize(
    ("stage", "section", "key", "value", "message", "args"),
    [
        (
            "train",
            "train",
            "epochs",
            0,
            "train.epochs: 0 is not allowed",
            [
                "--model",
                "dense",
                "--level",
                "0.3",
                "--clean-dir",
                "x",
                "--noisy-dir",
                "x",
                "--model-dir",
                "x",
                "--live-dir",
                "x",
            ],
        ),
        (
            "add_noise",
            "noise",
            "levels",
            [0.3, 1.5],
            "noise.levels: [0.3, 1.5] is not allowed",
            ["--level", "1.5", "--clean-dir", "x", "--out-dir", "x"],
        ),
        (
            "preprocess",
            "data",
            "dir",
            "no/such/folder",
            "data.dir: folder 'no/such/folder' not found",
            ["--out-dir", "x"],
        ),
        (
            "visualize",
            "visualize",
            "n_samples",
            -3,
            "visualize.n_samples: -3 is not allowed",
            [
                "--level",
                "0.3",
                "--clean-dir",
                "x",
                "--noisy-dir",
                "x",
                "--denoised-dir",
                "x",
                "--baselines-dir",
                "x",
                "--scores",
                "x.json",
                "--out",
                "x.png",
            ],
        ),
    ],
)
def test_stage_with_bad_param_exits_with_one_line(
    tmp_path, stage, section, key, value, message, args
):
    result = stage_process(stage, write_params(tmp_path, section, key, value), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0]


def test_negative_seed_is_rejected(tmp_path):
    params = dict(DEFAULTS, seed=-1)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = stage_process(
        "add_noise", path, "--level", "0.3", "--clean-dir", "x", "--out-dir", "x"
    )
    assert result.returncode == 2
    assert "seed: -1 is not allowed; it must be an integer >= 0" in result.stderr


def test_the_shipped_params_are_valid_as_a_whole():
    validate_params(REPO / "params.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["train"].update(epoch=30), "train.epoch: unknown key"),
        (lambda p: p["apply"].update(tiles=4), "apply.tiles: unknown key"),
        (lambda p: p.update(trian={"epochs": 3}), "trian: unknown section"),
        (lambda p: p["models"].update(resnet={}), "models.resnet: unknown model"),
        (lambda p: p["models"]["unet"].update(depht=3), "models.unet.depht: unknown key"),
        (lambda p: p["noise"].update(levels=[]), "noise.levels: [] is not allowed"),
        (
            lambda p: p["noise"].update(type="camera", clip=False),
            "noise.clip: false does not go with noise.type camera",
        ),
        (
            lambda p: p["visualize"].update(baselines=["nlm"]),
            "visualize.baselines: 'nlm' is not run; it must be one of baselines.methods",
        ),
        (lambda p: p["apply"].update(model="conv/0.4"), "apply.model: 'conv/0.4' is not trained"),
        (lambda p: p["apply"].update(model="drunet/blind"), "apply.model: 'drunet/blind' is not"),
        (lambda p: p["apply"].update(overlap=200), "apply.overlap: 200 is not allowed"),
        (lambda p: p["models"].pop("unet"), "models.unet: missing; train.models"),
    ],
)
def test_the_whole_file_check_names_each_problem(tmp_path, change, message):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["baselines"]["methods"] = ["median", "bm3d"]
    params["visualize"]["baselines"] = ["bm3d"]
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(UserError) as error:
        validate_params(path)
    lines = str(error.value).splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_check_params_stage_fails_in_one_line_and_writes_nothing(tmp_path):
    path = write_params(tmp_path, "train", "epoch", 30)
    result = stage_process("check_params", path, "--out", tmp_path / "ok.txt")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path}: train.epoch: unknown key; known keys are "
        + ", ".join(TrainParams.__dataclass_fields__)
    ]
    assert not (tmp_path / "ok.txt").exists()


def test_every_key_in_params_yaml_says_what_it_does():
    # params.yaml's comments are the params' documentation: the README links to it.
    lines = (REPO / "params.yaml").read_text().splitlines()
    keys = [line for line in lines if re.match(r"\s*[a-z_]+:", line)]
    assert len(keys) > 60
    assert [line for line in keys if "#" not in line] == []
