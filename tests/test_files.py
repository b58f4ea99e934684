"""Row-wise reading and writing of .npy files, for datasets larger than memory."""

import errno
import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from denoising.errors import UserError, run_stage
from denoising.files import atomic_dir, atomic_path, remove_stale_temporaries
from denoising.rows import RowFile, RowWriter, npy_header, read_rows


@pytest.fixture
def array_file(tmp_path):
    array = np.random.default_rng(0).random((50, 4, 3, 1), dtype=np.float32)
    np.save(tmp_path / "a.npy", array)
    return tmp_path / "a.npy", array


@pytest.mark.parametrize(
    "index",
    [slice(0, 10), slice(45, 60), slice(7, 7), [3, 4, 5, 20, 1], [49], list(range(50))[::-3]],
)
def test_row_file_reads_exactly_the_rows_asked_for(array_file, index):
    path, array = array_file
    np.testing.assert_array_equal(RowFile(path)[index], array[index])
    np.testing.assert_array_equal(read_rows(path, index), array[index])


def test_row_file_refuses_rows_out_of_range(array_file):
    with pytest.raises(IndexError, match="out of range"):
        RowFile(array_file[0])[[0, 50]]
    with pytest.raises(IndexError, match="out of range"):
        RowFile(array_file[0])[[-1]]


def test_row_file_refuses_a_cut_file(array_file):
    path, _ = array_file
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1)
    assert RowFile(path)[[0, 48]].shape == (2, 4, 3, 1)
    with pytest.raises(UserError, match="shorter than its header says"):
        RowFile(path)[[0, 49]]


def test_row_writer_fills_and_cuts_to_the_rows_written(tmp_path, array_file, monkeypatch):
    _, array = array_file
    writer = RowWriter(tmp_path / "b.npy", 60, (4, 3, 1))
    writer.write(array[:30])
    writer.write(array[30:])
    with pytest.raises(UserError, match="more rows than the 60 planned"):
        writer.write(array[:11])
    writer.close()  # 10 planned rows never came (skipped files): the file is cut to 50
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), array)
    monkeypatch.setattr("denoising.rows.CHUNK_BYTES", 4 * 3 * 4 * 7)  # 7 rows a chunk
    chunks = list(RowFile(tmp_path / "b.npy").chunks())
    assert chunks[0] == slice(0, 7) and chunks[-1] == slice(49, 50) and len(chunks) == 8
    # Whole batches: 7 rows round down to 6 for batches of 3, and up to one batch of 8.
    chunks = list(RowFile(tmp_path / "b.npy").chunks(3))
    assert chunks[0] == slice(0, 6) and chunks[-1] == slice(48, 50) and len(chunks) == 9
    assert list(RowFile(tmp_path / "b.npy").chunks(8))[:2] == [slice(0, 8), slice(8, 16)]


@pytest.mark.parametrize(("capacity", "count"), [(10, 7), (100_000, 3), (10**7, 0)])
def test_a_short_file_is_cut_in_place_to_the_bytes_numpy_would_write(tmp_path, capacity, count):
    rows = np.random.default_rng(1).random((count, 2, 3, 1), dtype=np.float32)
    writer = RowWriter(tmp_path / "a.npy", capacity, (2, 3, 1))
    writer.write(rows)
    inode = (tmp_path / "a.npy").stat().st_ino
    writer.close()
    # The same file, cut: a copy would need the disk space twice over.
    assert (tmp_path / "a.npy").stat().st_ino == inode
    np.save(tmp_path / "b.npy", rows)
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.npy", "b.npy"]


def test_a_header_that_numpy_would_make_shorter_is_padded_to_its_old_length():
    long = npy_header(10**12, (28, 28, 1), 128)
    assert len(long) == 128
    assert len(npy_header(1, (28, 28, 1), 128)) == 128
    buffer = io.BytesIO(npy_header(1, (28, 28, 1), 128) + bytes(28 * 28 * 4))
    assert np.load(buffer).shape == (1, 28, 28, 1)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_atomic_outputs_respect_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "f.json") as temporary:
            temporary.write_text("{}")
        with atomic_dir(tmp_path / "d") as temporary:
            (temporary / "x").write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~umask


def test_no_overwrite_keeps_a_file_that_appeared_meanwhile(tmp_path):
    with pytest.raises(UserError, match="already exists; nothing was written over it"):
        with atomic_path(tmp_path / "a.png", overwrite=False) as temporary:
            temporary.write_text("ours")
            (tmp_path / "a.png").write_text("theirs")
    assert (tmp_path / "a.png").read_text() == "theirs"
    assert os.listdir(tmp_path) == ["a.png"]


def test_stale_temporaries_under_and_beside_outputs_are_swept(tmp_path):
    stale = [
        tmp_path / "data/.preprocessed.tmp-abc",
        tmp_path / "models/conv/.0.3.tmp-xyz",
        tmp_path / "metrics/.0.3.abc.json.tmp.json",
    ]
    kept = [tmp_path / "data/sample/a.png", tmp_path / "models/conv/0.3/model.keras"]
    for path in stale[:2]:
        (path / "inner").mkdir(parents=True)
    for path in stale[2:] + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    roots = [tmp_path / "data/preprocessed", tmp_path / "models", tmp_path / "metrics"]
    assert remove_stale_temporaries(roots) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)


def test_a_full_disk_during_preprocess_is_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, capsys
):
    from stages import preprocess
    from tests.helpers import write_digit_like_images

    write_digit_like_images(tmp_path / "data/train", 4, seed=1)
    write_digit_like_images(tmp_path / "data/test", 2, seed=2)
    params = (Path(preprocess.__file__).parent.parent / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(
        params.replace("dir: data/sample", f"dir: {tmp_path / 'data'}")
    )

    def full(self, rows):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(RowWriter, "write", full)
    argv = ["--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stopped:
        run_stage(lambda: preprocess.main(argv))
    assert stopped.value.code == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "no space left on the disk" in errors[0]
    assert sorted(os.listdir(tmp_path)) == ["data", "params.yaml"]
