"""A folder of images that are noisy already (noise.type real): trained on alone, scored against
clean references where data.dir has test_clean/, and described by estimated noise levels where
it has none. The stages run in this process; one end-to-end run goes through `dvc repro`."""

import csv
import importlib
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from denoising.errors import UserError
from denoising.layout import MISSING_SCORES
from denoising.params import validate_params
from denoising.train.plan import learning_targets, open_arrays
from tests.helpers import REPO, dvc, make_project

LEVEL = "real"


def noisy_folder(
    root, references: bool, pairs: bool = False, train_clean: bool = False, dark: float = 0.35
):
    """train/ and test/ of 28x28 noisy PNGs (grey blobs on a background at ``dark``, Gaussian
    sigma 0.1, seeded: hardly ever clipped at the default 0.35, often at black at 0.05), with
    their clean originals in test_clean/ if ``references``, a second noisy copy of each train
    image in train_b/ if ``pairs``, and the train images' clean originals in train_clean/ if
    ``train_clean``."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:28, 0:28]
    for split, count in (("train", 24), ("test", 8)):
        for index in range(count):
            centre, radius = rng.uniform(8, 20, size=2), rng.uniform(4, 9)
            clean = np.where(np.hypot(rows - centre[0], cols - centre[1]) < radius, 0.65, dark)
            noisy = clean + 0.1 * rng.standard_normal(clean.shape)
            second = clean + 0.1 * rng.standard_normal(clean.shape)
            name = f"class{index % 2}/{index:03d}.png"
            made = [(split, noisy), (f"{split}_clean", clean), (f"{split}_b", second)]
            wanted = {"train", "test", *(["test_clean"] * references), *(["train_b"] * pairs)}
            wanted |= {"train_clean"} if train_clean else set()
            for folder, pixels in made:
                if folder in wanted:
                    path = root / "data" / folder / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    eight = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
                    Image.fromarray(eight).save(path)
    return root / "data"


def write_params(work, data_dir, target="n2v2", epochs=1):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["dir"] = str(data_dir)
    params["noise"].update(type="real", levels=[LEVEL])
    params["train"].update(
        models=["unet"], blind_models=[], target=target, epochs=1, batch_size=8, loss="mse"
    )
    params["models"]["unet"].update(epochs=epochs, batch_size=8, top_skip=False, pool="blur")
    params["baselines"].update(methods=["median", "bm3d"], workers=1)
    params["visualize"].update(n_samples=3)
    params["apply"]["model"] = f"unet/{LEVEL}"
    work.mkdir(parents=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    validate_params(work / "params.yaml")
    return work / "params.yaml"


def run_stages(work, data_dir, target="n2v2", epochs=1):
    """Every stage from preprocess to summarize, at the one level "real"."""
    params = write_params(work, data_dir, target, epochs)

    def call(stage, *args):
        module = importlib.import_module(f"stages.{stage}")
        module.main(["--params", str(params), *map(str, args)])

    clean, noisy, denoised = work / "pre", work / "noisy" / LEVEL, work / "denoised" / LEVEL
    level = ["--level", LEVEL, "--clean-dir", clean]
    call("preprocess", "--out-dir", clean)
    call("add_noise", *level, "--out-dir", noisy)
    model = ["--model-dir", work / "model", "--live-dir", work / "live"]
    call("train", "--model", "unet", *level, "--noisy-dir", noisy, *model)
    call(
        "denoise",
        *level,
        "--model-name",
        "unet",
        "--model",
        work / "model/model.keras",
        "--noisy-dir",
        noisy,
        "--out-dir",
        denoised / "unet",
        "--metrics",
        work / "denoise.json",
    )
    baselines = work / "baselines"
    timings = ["--timings", work / "timings.json"]
    call("baselines", *level, "--noisy-dir", noisy, "--out-dir", baselines, *timings)
    folders = ["--noisy-dir", noisy, "--denoised-dir", denoised, "--baselines-dir", baselines]
    call("compare", *level, *folders, "--out", work / "compare" / f"{LEVEL}.json")
    scores = ["--scores", work / "compare" / f"{LEVEL}.json"]
    call("visualize", *level, *folders, *scores, "--out", work / "figure.png")
    outs = ["--plot-out", work / "summary.csv", "--summary-dir", work / "summary"]
    call("summarize", "--compare-dir", work / "compare", *outs)
    read = lambda name: json.loads((work / name).read_text())  # noqa: E731
    return read("denoise.json"), read(f"compare/{LEVEL}.json"), read("model/card.json")


def test_real_noise_without_references_says_which_scores_are_missing(tmp_path):
    data_dir = noisy_folder(tmp_path, references=False)
    denoised, compared, card = run_stages(tmp_path / "work", data_dir)
    # add_noise added nothing: the noisy arrays are the images as read.
    for split in ("train", "test"):
        ours = np.load(tmp_path / f"work/noisy/{LEVEL}/{split}.npy")
        np.testing.assert_array_equal(ours, np.load(tmp_path / f"work/pre/{split}.npy"))
    assert card["noise"]["type"] == "real" and card["train"]["target"] == "n2v2"
    # Hardly clipped (3.5 sigma from black and white): nothing to correct; the card says why.
    assert card["real_clipping"]["share"] < 0.001 and card["real_clipping"]["sigma"] is None
    assert "correction" not in card
    assert "psnr_uncorrected" not in denoised and "sigma_uncorrected" not in denoised
    assert denoised["scores_missing"] == compared["scores_missing"] == MISSING_SCORES
    assert "psnr_noisy" not in denoised and "test_loss" not in denoised
    # Estimated sigma of the noisy images: near the 0.1 that made them.
    assert 0.08 < denoised["sigma_noisy"] < 0.12
    assert denoised["sigma_denoised"] < denoised["sigma_noisy"]
    for method in ("noisy", "unet", "median", "bm3d"):
        assert set(compared[method]) == {"sigma"}, method
    assert "best_method" not in compared
    assert compared["median"]["sigma"] < compared["noisy"]["sigma"]
    assert (tmp_path / "work/figure.png").stat().st_size > 0
    rows = list(csv.DictReader((tmp_path / "work/summary.csv").open()))
    assert rows == []  # Nothing to plot against noise level without scores.
    summary = lambda name: json.loads((tmp_path / f"work/summary/{name}.json").read_text())  # noqa: E731
    assert summary("unet") == {"sigma": {LEVEL: compared["unet"]["sigma"]}}
    assert summary("best") == {"test_images": compared["images"]}


def test_real_noise_with_references_is_scored_against_them(tmp_path):
    data_dir = noisy_folder(tmp_path, references=True)
    denoised, compared, _ = run_stages(tmp_path / "work", data_dir)
    manifest = json.loads((tmp_path / "work/pre/manifest.json").read_text())
    assert manifest["test_clean"]["count"] == 8
    assert "scores_missing" not in denoised and "scores_missing" not in compared
    # The noisy test images against their references: sigma 0.1 gives about 20 dB.
    assert 19 < denoised["psnr_noisy"] < 21
    assert compared["median"]["psnr"] > compared["noisy"]["psnr"]
    assert compared["best_method"] in ("unet", "median", "bm3d")
    assert {"psnr", "ssim", "sigma"} <= set(compared["unet"])
    rows = list(csv.DictReader((tmp_path / "work/summary.csv").open()))
    assert {row["method"] for row in rows} == {"noisy", "unet", "median", "bm3d"}
    assert {row["noise_level"] for row in rows} == {LEVEL}


def test_real_noise_that_clips_is_corrected_at_the_estimated_sigma(tmp_path):
    """A dark background at 0.05 under sigma 0.1 clips at black in about 30 % of its pixels:
    the card asks for the clipped mean's inverse at the sigma estimated from the train images,
    and the denoise stage applies it and scores before it too."""
    data_dir = noisy_folder(tmp_path, references=True, dark=0.05)
    # Enough epochs that the model's outputs reach the dark background, where the inverse acts.
    denoised, _, card = run_stages(tmp_path / "work", data_dir, epochs=6)
    assert card["real_clipping"]["share"] > 0.1
    sigma = card["real_clipping"]["sigma"]
    assert 0.05 < sigma < 0.12
    assert card["correction"] == {"inverts": "clipped-gaussian-mean", "sigma": sigma}
    assert "psnr_uncorrected" in denoised
    import keras

    from denoising.clipping import debias

    model = keras.saving.load_model(tmp_path / "work/model/model.keras")
    noisy = np.load(tmp_path / f"work/noisy/{LEVEL}/test.npy")
    out = np.load(tmp_path / f"work/denoised/{LEVEL}/unet/test.npy")
    raw = model.predict(noisy, verbose=0)
    expected = debias(raw, sigma)
    assert np.abs(expected - raw).max() > 0.01  # some outputs are near black: the inverse acts
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_real_pairs_train_noise2noise_towards_the_second_acquisition(tmp_path):
    data_dir = noisy_folder(tmp_path, references=True, pairs=True)
    denoised, compared, card = run_stages(tmp_path / "work", data_dir, target="noisy")
    assert card["train"]["target"] == "noisy" and card["train"]["fresh_noise"] is False
    # Validation pairs are two noisy images: the loss holds both noises' variance, 2 * 0.1**2.
    assert 0.01 < card["best_val_loss"] < 0.1
    assert compared["unet"]["psnr"] > 0 and compared["best_method"] in ("median", "bm3d", "unet")
    # Without train_b/, one line says what real pairs need.
    (tmp_path / "work/pre/train_b.npy").unlink()
    module = importlib.import_module("stages.train")
    args = ["--params", tmp_path / "work/params.yaml", "--model", "unet", "--level", LEVEL]
    args += ["--clean-dir", tmp_path / "work/pre", "--noisy-dir", tmp_path / f"work/noisy/{LEVEL}"]
    args += ["--model-dir", tmp_path / "m", "--live-dir", tmp_path / "live"]
    with pytest.raises(UserError, match="data.dir needs a train_b/ folder"):
        module.main([str(arg) for arg in args])


def test_clean_references_of_the_train_images_are_clean_targets(tmp_path):
    data_dir = noisy_folder(tmp_path, references=True, train_clean=True)
    denoised, compared, card = run_stages(tmp_path / "work", data_dir, target="clean")
    manifest = json.loads((tmp_path / "work/pre/manifest.json").read_text())
    assert manifest["train_clean"]["count"] == manifest["train"]["count"] == 24
    assert card["train"]["target"] == "clean" and card["train"]["fresh_noise"] is False
    # The pairs are (train image, its clean reference), patch for patch.
    pre, noisy = tmp_path / "work/pre", tmp_path / f"work/noisy/{LEVEL}"
    arrays = open_arrays(pre, noisy, "off", learning_targets(LEVEL, "clean")[0])
    np.testing.assert_array_equal(arrays.clean, np.load(pre / "train_clean.npy"))
    np.testing.assert_array_equal(arrays.noisy, np.load(pre / "train.npy"))
    noise = np.mean((arrays.noisy - arrays.clean) ** 2)
    assert 0.008 < noise < 0.012 and compared["unet"]["psnr"] > 0
    # Without train_clean/, the params say what clean targets need.
    params = write_params(tmp_path / "other", noisy_folder(tmp_path / "n", references=True))
    values = yaml.safe_load(params.read_text())
    values["train"]["target"] = "clean"
    params.write_text(yaml.safe_dump(values))
    with pytest.raises(UserError, match="no train_clean/ folder of clean references"):
        validate_params(params)


def test_second_acquisitions_must_match_the_train_images_name_for_name(tmp_path):
    data_dir = noisy_folder(tmp_path, references=False, pairs=True)
    renamed = next((data_dir / "train_b").rglob("*.png"))
    renamed.rename(renamed.with_suffix(".tif"))
    params = write_params(tmp_path / "work", data_dir, target="noisy")
    module = importlib.import_module("stages.preprocess")
    with pytest.raises(UserError, match=r"no image named like class0/000.png \(the same ext"):
        module.main(["--params", str(params), "--out-dir", str(tmp_path / "pre")])


def test_references_must_match_the_test_images_name_for_name(tmp_path):
    data_dir = noisy_folder(tmp_path, references=True)
    missing = next((data_dir / "test_clean").rglob("*.png"))
    missing.unlink()
    params = write_params(tmp_path / "work", data_dir)
    module = importlib.import_module("stages.preprocess")
    with pytest.raises(UserError, match=r"test_clean: no image named like class0/000 \(any"):
        module.main(["--params", str(params), "--out-dir", str(tmp_path / "pre")])
    assert not (tmp_path / "pre").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"noise": {"levels": [0.5]}}, "noise.levels: [0.5] does not go with noise.type real"),
        ({"noise": {"type": "gaussian"}}, "noise.levels: ['real'] does not go with noise.type"),
        ({"train": {"target": "clean"}}, "train.target: clean needs clean images"),
        ({"train": {"target": "noisy", "blind_models": ["unet"]}}, "blind_models: must be"),
        ({"train": {"blind_models": ["unet"]}}, "train.blind_models: must be [] with"),
        ({"train": {"target": "ne2ne", "models": ["dense"]}}, "train.models: dense takes only"),
    ],
)
def test_params_that_cannot_go_with_real_noise_are_one_line_each(tmp_path, changes, message):
    params = write_params(tmp_path / "work", tmp_path)
    values = yaml.safe_load(params.read_text())
    for section, update in changes.items():
        values[section].update(update)
    params.write_text(yaml.safe_dump(values))
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_params(params)


@pytest.mark.e2e
def test_dvc_repro_on_a_noisy_folder_without_references(tmp_path):
    data_dir = noisy_folder(tmp_path, references=False)
    project = make_project(
        tmp_path / "project",
        data_dir,
        [LEVEL],
        ["unet"],
        noise={"type": "real"},
        train={"target": "n2v"},
        baselines={"methods": ["median"]},
        apply={"model": f"unet/{LEVEL}", "resize": False, "input_dir": str(data_dir / "test")},
    )
    dvc(project, "repro")
    compared = json.loads((project / f"metrics/compare/{LEVEL}.json").read_text())
    assert compared["scores_missing"] == MISSING_SCORES
    assert compared["unet"]["sigma"] < compared["noisy"]["sigma"]
    assert (project / f"plots/figures/{LEVEL}_noise.png").is_file()
    assert len(list((project / "data/applied").rglob("*.png"))) == 8
    assert "Running stage" not in dvc(project, "repro")
