"""denoise-images --workers N: the files spread over a Dask LocalCluster give the same bytes as
one process, the command's refusals come before any work, and a worker killed mid-run has its
files redone with nothing half-written left."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import gradient, pipeline_env
from tests.test_command_safety import snapshot

pytest.importorskip("distributed")


def command(*args, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "denoising.command.denoise_images", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=pipeline_env(),
        **options,
    )


def finished(*args) -> subprocess.CompletedProcess:
    process = command(*args)
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def mixed_folder(folder: Path, count: int = 6, side: int = 96) -> Path:
    """Grey and colour PNGs, a JPEG, a 16-bit PNG, a sub-folder, a.jpg beside a.png, and a file
    that is no image."""
    rng = np.random.default_rng(3)
    (folder / "sub").mkdir(parents=True)
    for number in range(count):
        noisy = rng.integers(0, 256, (side, side + number), dtype=np.uint8)
        Image.fromarray(noisy).save(folder / f"grey{number}.png")
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(folder / "sub/c.png")
    Image.fromarray(gradient()).convert("RGB").save(folder / "a.jpg")
    Image.fromarray(gradient()).save(folder / "a.png")
    Image.fromarray(gradient()[..., 0].astype(np.uint16) * 257).save(folder / "deep.png")
    (folder / "notes.png").write_bytes(b"not an image")
    return folder


def relative(folder: Path) -> dict:
    return {str(Path(k).relative_to(folder)): v for k, v in snapshot(folder).items()}


def test_two_workers_give_the_bytes_of_one_process(tmp_path, models):
    images = mixed_folder(tmp_path / "in")
    one = finished(models["conv"], images, "-o", tmp_path / "one")
    two = finished(models["conv"], images, "-o", tmp_path / "two", "--workers", "2")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert relative(tmp_path / "one") == relative(tmp_path / "two")
    assert len(relative(tmp_path / "two")) == 10  # Every image but the one that is not.
    skipped = [line for line in two.stderr.splitlines() if line.startswith("skipped ")]
    assert skipped == [line for line in one.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1 and "notes.png" in skipped[0]
    assert "denoised 10 images" in two.stderr


def test_refusals_come_before_any_worker_starts(tmp_path, models):
    images = mixed_folder(tmp_path / "in")
    (tmp_path / "other").mkdir()
    Image.fromarray(gradient()).save(tmp_path / "other/a.png")
    collide = finished(
        models["conv"], images, tmp_path / "other", "-o", tmp_path / "out", "--workers", "2"
    )
    assert collide.returncode == 2 and "would both be written to" in collide.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    Image.fromarray(gradient()).save(tmp_path / "out/grey0.png")
    before = snapshot(tmp_path / "out")
    exists = finished(models["conv"], images, "-o", tmp_path / "out", "--workers", "2")
    assert exists.returncode == 2 and "already exists" in exists.stderr
    assert snapshot(tmp_path / "out") == before
    zero = finished(models["conv"], images, "-o", tmp_path / "z", "--workers", "0")
    assert zero.returncode == 2 and "--workers: 0 must be at least 1" in zero.stderr


def workers_of(pid: int) -> list[int]:
    """The Dask worker processes that the command ``pid`` spawned (its children started by
    multiprocessing, not its resource tracker)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += map(int, (task / "children").read_text().split())
    found = []
    for child in children:
        try:
            line = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in line and b"resource_tracker" not in line:
            found.append(child)
    return found


def test_a_worker_killed_mid_run_has_its_files_redone(tmp_path, models):
    images = mixed_folder(tmp_path / "in", count=40, side=256)
    out = tmp_path / "two"
    process = command(models["conv"], images, "-o", out, "--workers", "2", "--tta")
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        done = list(out.glob("grey*.png")) if out.is_dir() else []
        workers = workers_of(process.pid)
        if done and len(workers) == 2:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    _, err = process.communicate(timeout=600)
    assert killed is not None, "the run ended before a worker could be killed"
    assert process.returncode == 0, err
    results = relative(out)
    assert not [name for name in results if ".tmp" in name]  # Nothing half-written is left.
    tta = finished(models["conv"], images, "-o", tmp_path / "tta", "--tta")
    assert tta.returncode == 0, tta.stderr
    assert results == relative(tmp_path / "tta")


def test_a_running_scheduler_takes_the_files_and_a_dead_address_is_one_line(tmp_path, models):
    import distributed

    images = mixed_folder(tmp_path / "in", count=2)
    one = finished(models["conv"], images, "-o", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    with distributed.LocalCluster(n_workers=1, processes=True, dashboard_address=None) as cluster:
        there = finished(
            models["conv"], images, "-o", tmp_path / "two", "--dask", cluster.scheduler_address
        )
    assert there.returncode == 0, there.stderr
    assert relative(tmp_path / "two") == relative(tmp_path / "one")
    dead = finished(models["conv"], images, "-o", tmp_path / "d", "--dask", "tcp://127.0.0.1:9")
    assert dead.returncode == 2 and not (tmp_path / "d").exists()
    assert (
        dead.stderr.strip()
        .splitlines()[-1]
        .startswith("error: --dask tcp://127.0.0.1:9: cannot reach")
    )
