"""A copy of the pipeline in a fresh git repository, for the benchmarks and the end-to-end tests
that run DVC on their own data without touching the user's workspace."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PIPELINE = ["dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", ".dvc/config", ".dvc/plots"]
PIPELINE += ["stages", "denoising", "data/examples"]
# DVC and the stages' "python" must be this interpreter's, wherever the benchmark runs from.
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


# The line training.fit logs, which the benchmarks read the fitting time from.
FIT = re.compile(r"fit took ([\d.]+) s")


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
