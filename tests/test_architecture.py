"""The package's shape as checked facts: no import cycle (lazy imports included), the hall
imports no wing and a wing only the wings it is allowed, no module imports a stage, and
``denoise-images`` (``denoising/command/``) runs on the core dependencies alone: read from the
code, and run in a subprocess with the pipeline's extras blocked."""

import ast
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import REPO, gradient, pipeline_env

WINGS = ("command", "train", "score", "experiments")
# The wings a wing may import, and why; every wing may import the hall.
WING_IMPORTS = {
    "command": {"score"},  # the classical methods, only with the pipeline's extras installed
    "train": set(),
    "score": set(),
    "experiments": {"score"},  # the ranking of methods by their scores
}
# What `pip install .` gives (pyproject.toml's dependencies, by import name, and what they
# bring), beside the standard library.
CORE = {"numpy", "PIL", "tifffile", "tqdm", "tensorflow", "keras"}
# The pipeline's and the search's extras, which denoise-images must never need.
EXTRAS = (
    "yaml",
    "skimage",
    "scipy",
    "bm3d",
    "dvc",
    "dvclive",
    "matplotlib",
    "optuna",
    "distributed",
    "dask",
)


@dataclass(frozen=True)
class Import:
    """One import in a module: what it names, whether it runs when the module is imported (top
    level) and whether a missing package is caught (inside ``try: ... except ImportError``)."""

    target: str
    lineno: int
    top_level: bool
    optional: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def catches_import_error(node: ast.Try) -> bool:
    names = []
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names += [kind.id for kind in kinds if isinstance(kind, ast.Name)]
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in ``path``, lazy ones included; ``from denoising.x import y`` names the
    module ``denoising.x.y`` where that is a module, else ``denoising.x``."""
    found = []

    def visit(node, top_level: bool, optional: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, node.lineno, top_level, optional) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (root / (sub.replace(".", "/") + ".py")).is_file()
                target = sub if is_module else node.module
                found.append(Import(target, node.lineno, top_level, optional))
        inner = top_level and not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        )
        caught = optional or (isinstance(node, ast.Try) and catches_import_error(node))
        for child in ast.iter_child_nodes(node):
            in_body = isinstance(node, ast.Try) and child in node.body
            visit(child, inner, caught if in_body else optional)

    visit(ast.parse(path.read_text()), True, False)
    return found


def graph(root: Path) -> dict[str, list[Import]]:
    """The package's modules, each with its imports."""
    return {
        module_name(root, path): imports_of(root, path)
        for path in sorted((root / "denoising").rglob("*.py"))
    }


def place(module: str) -> str:
    """Where a package module lives: "hall", or its wing."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in WINGS else "hall"


def internal(target: str) -> str | None:
    """The package module an import names, or None for anything else."""
    return target if target == "denoising" or target.startswith("denoising.") else None


def cycles(modules: dict[str, list[Import]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk, lazy imports included."""
    found, state = [], {}

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for item in modules.get(module, []):
            target = internal(item.target)
            if target is None or target not in modules:
                continue
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[module] = "done"

    for module in modules:
        if module not in state:
            walk(module, [module])
    return found


def boundary_problems(modules: dict[str, list[Import]]) -> list[str]:
    """Imports that cross a boundary: the hall importing a wing, a wing importing a wing it may
    not, and any module importing a stage script."""
    problems = []
    for module, items in modules.items():
        here = place(module)
        for item in items:
            if item.target == "stages" or item.target.startswith("stages."):
                problems.append(f"{module}:{item.lineno}: imports the stage {item.target}")
            target = internal(item.target)
            if target is None:
                continue
            there = place(target)
            if here == "hall" and there != "hall":
                problems.append(f"{module}:{item.lineno}: the hall imports the wing {target}")
            elif "hall" not in (here, there) and there != here:
                if there not in WING_IMPORTS[here]:
                    problems.append(f"{module}:{item.lineno}: {here}/ may not import {target}")
    return problems


def command_problems(modules: dict[str, list[Import]]) -> list[str]:
    """Packages outside the core dependencies that importing or running ``denoise-images`` can
    need, followed through every package module it reaches; imports whose absence is caught
    (``except ImportError``) are optional, and not followed."""
    stdlib = set(sys.stdlib_module_names)
    pending = [module for module in modules if place(module) == "command"]
    seen, problems = set(), []
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for item in modules[module]:
            if item.optional:
                continue
            target = internal(item.target)
            if target is not None:
                pending.append(target)
            elif item.target.split(".")[0] not in stdlib | CORE:
                problems.append(f"{module}:{item.lineno}: needs {item.target}")
    return sorted(problems)


def test_the_package_has_no_import_cycle():
    assert cycles(graph(REPO)) == []


def test_no_import_crosses_a_boundary():
    assert boundary_problems(graph(REPO)) == []


def test_the_command_needs_only_the_core_dependencies():
    assert command_problems(graph(REPO)) == []


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "denoising", tmp_path / "denoising", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def add_line(root: Path, module: str, line: str) -> None:
    path = root / module
    path.write_text(path.read_text() + f"\n\ndef _added():\n    {line}\n")


def test_a_lazy_import_that_closes_a_cycle_is_caught(package_copy: Path):
    add_line(package_copy, "denoising/train/batches.py", "from denoising.train.fit import fit")
    found = cycles(graph(package_copy))
    assert ["denoising.train.batches", "denoising.train.fit", "denoising.train.batches"] in [
        cycle[-3:] for cycle in found
    ]


def test_imports_across_boundaries_are_caught(package_copy: Path):
    add_line(package_copy, "denoising/files.py", "from denoising.score.metrics import summary")
    add_line(
        package_copy, "denoising/train/noise.py", "from denoising.command.tiles import Tiling"
    )
    add_line(package_copy, "denoising/cards.py", "from stages.train import main")
    problems = "\n".join(boundary_problems(graph(package_copy)))
    assert "denoising.files:" in problems and "the hall imports the wing" in problems
    assert "train/ may not import denoising.command.tiles" in problems
    assert "denoising.cards:" in problems and "imports the stage stages.train" in problems


def test_an_extra_reached_from_the_command_is_caught(package_copy: Path):
    # Through the hall: params reads params.yaml with yaml, one of the pipeline's extras.
    add_line(package_copy, "denoising/command/tiles.py", "from denoising.params import REAL")
    assert any(
        "denoising.params:" in p and "needs yaml" in p
        for p in command_problems(graph(package_copy))
    )


BLOCKER = """
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {extras!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)

sys.meta_path.insert(0, Blocked())
sys.argv = ["denoise-images", *sys.argv[1:]]
from denoising.command.denoise_images import entry_point
entry_point()
"""


def run_blocked(*args) -> subprocess.CompletedProcess:
    code = textwrap.dedent(BLOCKER.format(extras=EXTRAS))
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=pipeline_env(),
        cwd=REPO,
        timeout=300,
    )


def test_the_command_runs_with_the_pipelines_extras_blocked(tmp_path, models):
    Image.fromarray(gradient()).save(tmp_path / "in.png")
    done = run_blocked(models["conv"], tmp_path / "in.png", "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/in.png").is_file()
    # The classical methods need the extras, and say so in one line.
    refused = run_blocked("bm3d", tmp_path / "in.png", "--sigma", "0.1", "-o", tmp_path / "b")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: bm3d: needs the pipeline's extras (bm3d is missing); pip install '.[pipeline]'"
    ]
    assert not (tmp_path / "b").exists()
    # So does a cluster, which needs Dask's distributed.
    spread = run_blocked(
        models["conv"], tmp_path / "in.png", "-o", tmp_path / "w", "--workers", "2"
    )
    assert spread.returncode == 2
    assert spread.stderr.strip().splitlines()[-1] == (
        "error: --workers/--dask: needs Dask's distributed; pip install '.[cluster]'"
    )
