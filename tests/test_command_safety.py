"""denoise-images never loses a file: name collisions, existing files, broken cards and models,
a full disk. Each case is refused in one line, before anything is written."""

import errno
import hashlib
import json
import os
import shutil

import keras
import pytest
from keras import layers
from PIL import Image

from denoising.command import denoise_images
from denoising.command.denoise_images import entry_point, main
from tests.helpers import gradient, save_with_card


def snapshot(*folders):
    """Every file under ``folders``: path -> SHA-256, to compare before and after a run."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def refused(capsys, monkeypatch, argv) -> list[str]:
    """Run the console script's path with ``argv``; it must exit 2 with error lines only."""
    monkeypatch.setattr("sys.argv", ["denoise-images", *map(str, argv)])
    with pytest.raises(SystemExit) as stopped:
        entry_point()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def write_images(folder, *names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient()).save(folder / name)


@pytest.mark.parametrize(
    ("layout", "inputs"),
    [
        # The same relative name under two input folders.
        ({"x": ["a.png", "sub/b.png"], "y": ["a.png"]}, ["x", "y"]),
        # The same file name given twice, from two folders.
        ({"x": ["a.png"], "y": ["a.png"]}, ["x/a.png", "y/a.png"]),
        # The same file twice.
        ({"x": ["a.png"]}, ["x/a.png", "x/a.png"]),
        # a.jpg and a.png keep their extensions (a.jpg.png), which a.jpg.png itself would take.
        ({"x": ["a.jpg", "a.png", "a.jpg.png"]}, ["x"]),
    ],
)
def test_colliding_inputs_are_refused_before_anything_is_written(
    tmp_path, models, capsys, monkeypatch, layout, inputs
):
    for folder, names in layout.items():
        write_images(tmp_path / folder, *names)
    before = snapshot(tmp_path)
    errors = refused(
        capsys,
        monkeypatch,
        [models["identity"], *(tmp_path / i for i in inputs), "-o", tmp_path / "out"],
    )
    assert len(errors) == 1 and "would both be written to" in errors[0]
    assert not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before


def test_names_that_differ_by_extension_each_get_their_own_output(tmp_path, models, capsys):
    write_images(tmp_path / "in", "a.jpg", "a.png", "a.bmp", "b.png")
    main([str(models["identity"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["a.bmp.png", "a.jpg.png", "a.png.png", "b.png"]
    assert "denoised 4 images" in capsys.readouterr().err


def test_originals_in_the_output_folder_are_never_overwritten(
    tmp_path, models, capsys, monkeypatch
):
    # The user's folder holds photo.jpg and photo.png; only the jpg is denoised, into the same
    # folder: its result would be photo.png, the user's other original.
    write_images(tmp_path / "shoot", "photo.jpg", "photo.png", "other.png")
    before = snapshot(tmp_path)
    errors = refused(
        capsys,
        monkeypatch,
        [models["identity"], tmp_path / "shoot/photo.jpg", "-o", tmp_path / "shoot"],
    )
    assert errors == [
        f"error: {tmp_path / 'shoot/photo.png'}: already exists; nothing was written; "
        "--overwrite replaces existing results"
    ]
    assert snapshot(tmp_path) == before


def test_existing_results_are_kept_unless_overwrite(tmp_path, models, capsys, monkeypatch):
    write_images(tmp_path / "in", "a.png", "b.png")
    argv = [models["identity"], tmp_path / "in", "-o", tmp_path / "out"]
    main([str(a) for a in argv])
    (tmp_path / "out/a.png").write_bytes(b"a result the user edited")
    before = snapshot(tmp_path)
    errors = refused(capsys, monkeypatch, argv)
    assert errors == [
        f"error: {tmp_path / 'out/a.png'}: already exists (and 1 more); nothing was written; "
        "--overwrite replaces existing results"
    ]
    assert snapshot(tmp_path) == before
    main([*map(str, argv), "--overwrite"])
    with Image.open(tmp_path / "out/a.png") as result:
        assert result.size == (40, 30)


def test_a_result_that_appears_during_the_run_is_not_replaced(tmp_path, models, monkeypatch):
    write_images(tmp_path / "in", "a.png")
    real_save = denoise_images.save_image

    def save_and_race(path, image, chosen):
        real_save(path, image, chosen)
        (tmp_path / "out/a.png").write_bytes(b"written by someone else meanwhile")

    monkeypatch.setattr(denoise_images, "save_image", save_and_race)
    with pytest.raises(Exception, match="already exists; nothing was written over it"):
        main([str(models["identity"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert (tmp_path / "out/a.png").read_bytes() == b"written by someone else meanwhile"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png"]


def test_output_that_is_a_file_is_one_line(tmp_path, models, capsys, monkeypatch):
    write_images(tmp_path, "in.png")
    (tmp_path / "taken").write_text("a file")
    errors = refused(
        capsys, monkeypatch, [models["identity"], tmp_path / "in.png", "-o", tmp_path / "taken"]
    )
    assert errors == [
        f"error: -o {tmp_path / 'taken'}: is a file; -o must be a folder (made if missing)"
    ]
    assert (tmp_path / "taken").read_text() == "a file"


BROKEN_CARDS = {
    "not json": ("{model: conv", "not a readable JSON model card"),
    "not an object": ("[1, 2]", "not a model card: expected a JSON object"),
    "wrong type": (
        json.dumps({"model": "conv", "input_shape": "any", "size_multiple": "4"}),
        "size_multiple: '4' is not allowed; it must be an integer >= 1",
    ),
    "zero multiple": (
        json.dumps({"model": "conv", "input_shape": "any", "size_multiple": 0}),
        "size_multiple: 0 is not allowed",
    ),
    "missing key": (json.dumps({"model": "conv", "size_multiple": 4}), "input_shape: missing"),
    "multiple too small": (
        json.dumps({"model": "conv", "input_shape": "any", "size_multiple": 1}),
        "size_multiple: 1 contradicts the model",
    ),
    "fixed shape for a conv": (
        json.dumps({"model": "conv", "input_shape": [28, 28, 1], "size_multiple": 4}),
        "input_shape: [28, 28, 1] contradicts the model",
    ),
}


@pytest.mark.parametrize(
    "case",
    list(BROKEN_CARDS),
)
def test_a_broken_card_is_one_line_naming_the_card(tmp_path, models, capsys, monkeypatch, case):
    text, message = BROKEN_CARDS[case]
    folder = tmp_path / "model"
    shutil.copytree(models["conv"], folder)
    (folder / "card.json").write_text(text)
    write_images(tmp_path, "in.png")
    errors = refused(capsys, monkeypatch, [folder, tmp_path / "in.png", "-o", tmp_path / "out"])
    assert len(errors) == 1 and str(folder / "card.json") in errors[0] and message in errors[0]
    assert not (tmp_path / "out").exists()


def test_a_model_with_code_in_it_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    inputs = keras.Input(shape=(None, None, 1))
    unsafe = keras.Model(inputs, layers.Lambda(lambda x: x * 2)(inputs), name="unsafe")
    folder = save_with_card(unsafe, tmp_path / "unsafe", "any", 1)
    write_images(tmp_path, "in.png")
    errors = refused(capsys, monkeypatch, [folder, tmp_path / "in.png", "-o", tmp_path / "out"])
    assert len(errors) == 1 and "cannot load this model" in errors[0]
    assert not (tmp_path / "out").exists()


def test_a_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, models, capsys, monkeypatch):
    write_images(tmp_path / "in", "a.png", "b.png")

    def full(path, image, chosen):
        with open(path, "wb") as handle:
            handle.write(b"half a PNG")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(denoise_images, "save_image", full)
    errors = refused(
        capsys, monkeypatch, [models["identity"], tmp_path / "in", "-o", tmp_path / "out"]
    )
    assert len(errors) == 1 and "no space left on the disk" in errors[0]
    assert os.listdir(tmp_path / "out") == []


def test_a_fifo_among_the_inputs_is_skipped_not_waited_on(tmp_path, models, capsys):
    write_images(tmp_path / "in", "a.png")
    os.mkfifo(tmp_path / "in/pipe.png")
    main([str(models["identity"]), str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert os.listdir(tmp_path / "out") == ["a.png"]
    assert "pipe.png: not a regular file" in capsys.readouterr().err


def test_a_file_where_a_result_folder_must_go_is_refused_first(
    tmp_path, models, capsys, monkeypatch
):
    write_images(tmp_path / "in", "a.png", "sub/b.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/sub").write_text("a file named like the folder")
    errors = refused(
        capsys, monkeypatch, [models["identity"], tmp_path / "in", "-o", tmp_path / "out"]
    )
    assert errors == [f"error: {tmp_path / 'out/sub'}: already exists; nothing was written"]
    assert sorted(os.listdir(tmp_path / "out")) == ["sub"]
