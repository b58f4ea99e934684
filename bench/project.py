"""What every benchmark shares: a copy of the pipeline in a fresh git repository (for the
benchmarks and the end-to-end tests that run DVC on their own data without touching the user's
workspace), DVC run in it, how long each training took there, and the machine it ran on."""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PIPELINE = ["dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", ".dvc/config", ".dvc/plots"]
PIPELINE += ["stages", "denoising", "data/examples"]


def python_env() -> dict:
    """The environment for DVC runs: DVC and the stages' "python" must be this interpreter's,
    wherever the benchmark (or test) runs from, even from a venv that is not activated."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


ENV = python_env()


def machine() -> str:
    """The CPU model and core count, so that timings can be read against the hardware."""
    cpuinfo = Path("/proc/cpuinfo")
    names = re.findall(r"model name\s*: (.+)", cpuinfo.read_text()) if cpuinfo.exists() else []
    cpu = names[0] if names else platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def fit_timing(project: Path, model: str, level: str) -> dict:
    """How long ``train@<model>-<level>`` (level "blind": ``train_blind@<model>``) took when it
    last ran in ``project``: ``fit_seconds``, ``epochs_run`` and ``steps_per_epoch``, from the
    log that the train stage writes beside the pipeline's outputs (logs/train/)."""
    return json.loads((project / f"logs/train/{model}/{level}.json").read_text())


def dvc_repro(project: Path, *targets: str) -> str:
    """Run `dvc repro` on ``targets`` in ``project``; what it printed. A failure ends the
    benchmark with the end of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", *targets],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(f"dvc repro failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def copy_pipeline(project: Path, update) -> None:
    """Copy the pipeline into ``project``, let ``update(params)`` change its params in place,
    and commit it all to a new git repository (DVCLive reads the commit). The repository gets an
    identity of its own, since DVC experiments commit, even on a machine without one."""
    for name in PIPELINE:
        source, target = REPO / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    params = yaml.safe_load((project / "params.yaml").read_text())
    update(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.name", "pipeline copy"],
        ["git", "config", "user.email", "pipeline-copy@example.com"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "a copy of the pipeline"],
    ):
        subprocess.run(command, cwd=project, check=True, capture_output=True)
