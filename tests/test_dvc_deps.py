"""dvc.yaml's code dependencies are a checked fact: each stage lists exactly the Python files
that its command imports, followed transitively through the package, lazy imports included."""

import ast
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

COMMAND = re.compile(r"python -m ([\w.]+)")


def module_file(root: Path, module: str) -> Path:
    return root / (module.replace(".", "/") + ".py")


def imported_files(root: Path, module: str) -> set[str]:
    """The files of ``module`` and of every ``denoising`` module it imports, transitively, as
    paths relative to ``root``. Importing any package module runs ``denoising/__init__.py``."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = module_file(root, name)
        relative = path.relative_to(root).as_posix()
        if relative in seen:
            continue
        seen.add(relative)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "denoising":
                    pending += [f"denoising.{alias.name}" for alias in node.names]
                elif node.module.startswith("denoising."):
                    pending.append(node.module)
            elif isinstance(node, ast.Import):
                pending += [a.name for a in node.names if a.name.startswith("denoising.")]
    if any(path.startswith("denoising/") for path in seen):
        seen.add("denoising/__init__.py")
    return seen


def stage_problems(root: Path) -> list[str]:
    """For every stage of ``root/dvc.yaml``: the Python files it imports but does not list as
    deps, and those it lists but does not import."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    problems = []
    for name, stage in stages.items():
        module = COMMAND.search(stage["cmd"])[1]
        wanted = imported_files(root, module)
        listed = {dep for dep in stage["deps"] if isinstance(dep, str) and dep.endswith(".py")}
        problems += [f"{name}: imports {path}, not in deps" for path in sorted(wanted - listed)]
        problems += [f"{name}: lists {path}, never imported" for path in sorted(listed - wanted)]
    return problems


def test_every_stage_lists_exactly_the_code_it_imports():
    assert stage_problems(REPO) == []


@pytest.fixture
def pipeline_copy(tmp_path: Path) -> Path:
    for name in ("dvc.yaml", "stages", "denoising"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_an_import_added_without_its_dep_is_caught(pipeline_copy: Path):
    noise = pipeline_copy / "denoising/noise.py"
    noise.write_text(noise.read_text() + "\nfrom denoising.metrics import quality  # noqa\n")
    problems = stage_problems(pipeline_copy)
    assert "add_noise: imports denoising/metrics.py, not in deps" in problems


def test_every_stage_says_what_it_does():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert [name for name, stage in stages.items() if not stage.get("desc")] == []
    assert list(stages)[-1] == "apply", "apply comes last: it uses what the pipeline made"
