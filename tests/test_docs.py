"""What the README and docs say about the code's shape, checked so that it cannot go stale: the
layout names every module where it lives, the testing page names every test file, and the
README and the stage scripts stay short enough to read."""

import re

from tests.helpers import REPO

WINGS = ("command", "train", "score", "experiments")


def layout_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def layout_parts(block: str) -> dict[str, str]:
    """The layout's text about each part of the package: "hall" and each wing, each from its
    line to the next part's (continuation lines included)."""
    parts, current = {}, None
    for line in block.splitlines():
        head = line[:23].strip()
        if head == "(the hall)":
            current = "hall"
        elif head.rstrip("/") in WINGS:
            current = head.rstrip("/")
        elif head:
            current = None
        if current is not None:
            parts[current] = parts.get(current, "") + " " + line[23:]
    return parts


def package_modules() -> dict[str, set[str]]:
    """Each part's modules, by name (package __init__ files aside)."""
    modules = {"hall": set(), **{wing: set() for wing in WINGS}}
    for path in (REPO / "denoising").rglob("*.py"):
        if path.name == "__init__.py":
            continue
        folder = path.parent.name
        modules[folder if folder in WINGS else "hall"].add(path.stem)
    return modules


def layout_problems(block: str) -> list[str]:
    parts = layout_parts(block)
    problems = []
    for part, names in package_modules().items():
        words = set(re.findall(r"[a-z_]+", parts.get(part, "")))
        problems += [f"{part}: {name} is not in the layout" for name in sorted(names - words)]
    return problems


def test_the_readme_layout_names_every_module_where_it_lives():
    assert layout_problems(layout_block()) == []


def test_a_module_missing_from_the_layout_is_caught():
    block = layout_block().replace("denoise_rows, ", "")
    assert layout_problems(block) == ["score: denoise_rows is not in the layout"]


def test_the_testing_page_names_every_test_file():
    page = (REPO / "docs/testing.md").read_text()
    files = sorted(path.name for path in (REPO / "tests").glob("test_*.py"))
    assert [name for name in files if f"`{name}`" not in page] == []


def test_the_readme_and_the_stage_scripts_stay_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 150
    long = {
        path.name: lines
        for path in (REPO / "stages").glob("*.py")
        if (lines := len(path.read_text().splitlines())) > 80
    }
    assert long == {}
