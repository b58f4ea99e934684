"""dvc.yaml's code dependencies are a checked fact: each stage lists exactly the Python files
that its command imports, followed transitively through the package, lazy imports included."""

import ast
import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

COMMAND = re.compile(r"python -m ([\w.]+)")


def module_file(root: Path, module: str) -> Path:
    """A module's file: ``a/b.py``, or a package's ``a/b/__init__.py``."""
    path = root / (module.replace(".", "/") + ".py")
    return path if path.is_file() else path.with_suffix("") / "__init__.py"


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
    # Importing a module runs the __init__.py of every package above it.
    for path in list(seen):
        for folder in Path(path).parents:
            if folder.parts and folder.parts[0] == "denoising":
                seen.add(f"{folder.as_posix()}/__init__.py")
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
    noise = pipeline_copy / "denoising/train/noise.py"
    noise.write_text(noise.read_text() + "\nfrom denoising.score.metrics import quality  # noqa\n")
    problems = stage_problems(pipeline_copy)
    assert "add_noise: imports denoising/score/metrics.py, not in deps" in problems


def test_every_stage_says_what_it_does():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert [name for name, stage in stages.items() if not stage.get("desc")] == []
    assert list(stages)[-1] == "apply", "apply comes last: it uses what the pipeline made"


# What a stage reads but does not list among its params, and why: the hand-kept half of the
# check below; the other half (which sections and fields each stage reads) is read from its code.
UNREAD = {
    "preprocess": {"data.workers": "the arrays are the same bytes whatever the number of workers"},
    "add_noise": {"noise.levels": "the stage's level is its matrix item (--level)"},
    "train": {
        "noise.levels": "the stage's level is its matrix item (--level)",
        "train.models": "the matrix: which models train, not how one does",
        "train.blind_models": "train_blind's matrix",
        "train.noise_range": "blind models only (train_blind)",
        "train.blind_epochs": "blind models only (train_blind)",
        "train.level_input": "blind models only (train_blind)",
    },
    "train_blind": {
        "noise.levels": "a blind model trains over train.noise_range, not at the levels",
        "train.models": "train's matrix",
        "train.blind_models": "the matrix: which models train, not how one does",
        "train.fresh_noise": "a blind model's noise is always drawn afresh",
        "train.mask_fraction": "no blind model has a self-supervised target (check_params)",
        "train.ne2ne_gamma": "no blind model has a self-supervised target (check_params)",
    },
}


def section_name(node: ast.expr) -> str:
    """A ``load_section`` section as dvc.yaml names it: "train", or ``models.${item.model}``
    for the f-string ``f"models.{args.model}"``."""
    if isinstance(node, ast.Constant):
        return node.value
    head = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    return f"{head}${{item.model}}"


def params_read(root: Path, module: str) -> tuple[set[str], set[str]]:
    """The params a stage script reads, from its code: (fields, as ``section.field``; sections
    used whole: passed on to the package, which may read any of their fields). "seed" counts
    as a field."""
    tree = ast.parse(module_file(root, module).read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bound: dict[str, str] = {}  # variable -> section
    fields, whole = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "load_seed":
            fields.add("seed")
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "load_section"):
            continue
        section = section_name(node.args[1])
        # The variable the section is bound to: directly, through a wrapping call such as
        # training_for(...), or as one element of a tuple assignment.
        child, parent, element = node, parents[node], None
        while isinstance(parent, ast.Call | ast.Tuple):
            if isinstance(parent, ast.Tuple):
                element = parent.elts.index(child)
            child, parent = parent, parents[parent]
        target = parent.targets[0]
        bound[(target if element is None else target.elts[element]).id] = section
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in bound:
            parent = parents[node]
            if isinstance(parent, ast.Attribute):
                fields.add(f"{bound[node.id]}.{parent.attr}")
            else:
                whole.add(bound[node.id])
    return fields, whole


# The properties of a params section, by the fields they are made from.
DERIVED = {
    "data.shape": {"data.image_size"},
    "data.channels": {"data.color"},
    "models.size_multiple": set(),  # a model section is listed whole
}


def test_every_property_of_a_section_says_what_it_is_made_from():
    from denoising.params import SECTIONS, ModelParams

    classes = {**SECTIONS, "models": ModelParams}
    found = {
        f"{name}.{attr}"
        for name, cls in classes.items()
        for klass in cls.__mro__
        for attr, value in vars(klass).items()
        if isinstance(value, property)
    }
    assert found == set(DERIVED)


def section_fields(section: str) -> set[str]:
    from denoising.params import SECTIONS

    if section not in SECTIONS:  # models.${item.model}: listed whole, checked by params.py
        return {section}
    return {f"{section}.{field.name}" for field in dataclasses.fields(SECTIONS[section])}


def params_problems(root: Path) -> list[str]:
    """For every stage: the params it reads but does not list (a change to them would not rerun
    it), and those it lists but never reads, less ``UNREAD``."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    problems = []
    for name, stage in stages.items():
        fields, whole = params_read(root, COMMAND.search(stage["cmd"])[1])
        fields = {made for field in fields for made in DERIVED.get(field, {field})}
        wanted = fields | {field for section in whole for field in section_fields(section)}
        wanted -= set(UNREAD.get(name, {}))
        listed = {f for entry in stage.get("params", []) for f in section_fields(entry)}
        problems += [f"{name}: reads {p}, not in params" for p in sorted(wanted - listed)]
        problems += [f"{name}: lists {p}, never read" for p in sorted(listed - wanted)]
    return problems


def test_every_stage_lists_exactly_the_params_it_reads():
    assert params_problems(REPO) == []


def test_a_param_left_out_of_a_stage_is_caught(pipeline_copy: Path):
    dvc_yaml = pipeline_copy / "dvc.yaml"
    text = dvc_yaml.read_text()
    train = text.index("\n  train:")
    at = text.index("      - train.init\n", train)
    dvc_yaml.write_text(text[:at] + text[at + len("      - train.init\n") :])
    assert params_problems(pipeline_copy) == ["train: reads train.init, not in params"]
