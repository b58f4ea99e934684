"""Row-wise reading and writing of .npy files, for datasets larger than memory."""

import numpy as np
import pytest

from denoising.errors import UserError
from denoising.files import RowFile, RowWriter, read_rows


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
    monkeypatch.setattr("denoising.files.CHUNK_BYTES", 4 * 3 * 4 * 7)  # 7 rows a chunk
    chunks = list(RowFile(tmp_path / "b.npy").chunks())
    assert chunks[0] == slice(0, 7) and chunks[-1] == slice(49, 50) and len(chunks) == 8
