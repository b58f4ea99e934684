"""Load and validate ``params.yaml``: one frozen dataclass per stage section.

Each problem becomes one line that names the key, the value and what is allowed. Unknown keys are
errors too, so a typo such as ``epoch:`` is never silently ignored.
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from denoising.errors import UserError

MODEL_NAMES = ("dense",)
LOSSES = ("binary_crossentropy", "mse", "mae")
NOISE_TYPES = ("gaussian",)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rule(check, allowed: str):
    """A dataclass field whose value must pass ``check``; ``allowed`` says what passes."""
    return field(metadata={"check": check, "allowed": allowed})


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _level(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


@dataclass(frozen=True)
class DataParams:
    dir: str = _rule(lambda v: isinstance(v, str) and v != "", "a folder path")
    image_size: Any = _rule(
        lambda v: (
            _positive_int(v)
            or (isinstance(v, list) and len(v) == 2 and all(map(_positive_int, v)))
        ),
        "a positive integer or a list [height, width] of positive integers",
    )

    @property
    def shape(self) -> tuple[int, int]:
        """The (height, width) that every image is resized to."""
        size = self.image_size
        return (size, size) if _is_int(size) else (size[0], size[1])


@dataclass(frozen=True)
class NoiseParams:
    type: str = _rule(lambda v: v in NOISE_TYPES, f"one of {', '.join(NOISE_TYPES)}")
    levels: list = _rule(
        lambda v: (
            isinstance(v, list) and len(v) > 0 and all(map(_level, v)) and len(set(v)) == len(v)
        ),
        "a non-empty list of distinct numbers in [0, 1]",
    )


@dataclass(frozen=True)
class TrainParams:
    model: str = _rule(lambda v: v in MODEL_NAMES, f"one of {', '.join(MODEL_NAMES)}")
    epochs: int = _rule(_positive_int, "an integer >= 1")
    batch_size: int = _rule(_positive_int, "an integer >= 1")
    learning_rate: float = _rule(lambda v: _is_number(v) and v > 0, "a number > 0")
    loss: str = _rule(lambda v: v in LOSSES, f"one of {', '.join(LOSSES)}")
    validation_split: float = _rule(
        lambda v: _is_number(v) and 0 < v < 1, "a number between 0 and 1 (exclusive)"
    )


@dataclass(frozen=True)
class DenoiseParams:
    batch_size: int = _rule(_positive_int, "an integer >= 1")


@dataclass(frozen=True)
class VisualizeParams:
    n_samples: int = _rule(_positive_int, "an integer >= 1")


def read_params(path: Path) -> dict:
    """Read the whole params file with ``yaml.safe_load``; nothing in it is run as code."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: params file not found") from None
    except yaml.YAMLError as error:
        reason = str(error).replace("\n", " ")
        raise UserError(f"{path}: not valid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def load_section(path: Path, name: str, cls: type):
    """Build ``cls`` from section ``name`` of the params file, or raise one ``UserError``."""
    section = read_params(path).get(name)
    if not isinstance(section, dict):
        raise UserError(f"{path}: section '{name}' is missing or is not a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}
    problems = [
        f"{name}.{key}: unknown key; known keys are {', '.join(known)}"
        for key in section
        if key not in known
    ]
    for key, spec in known.items():
        if key not in section:
            problems.append(f"{name}.{key}: missing; it must be {spec.metadata['allowed']}")
        elif not spec.metadata["check"](section[key]):
            problems.append(
                f"{name}.{key}: {section[key]!r} is not allowed; it must be "
                f"{spec.metadata['allowed']}"
            )
    if problems:
        raise UserError("\n".join(f"{path}: {problem}" for problem in problems))
    return cls(**section)


def load_seed(path: Path) -> int:
    """The shared seed that every random choice in the pipeline derives from."""
    seed = read_params(path).get("seed")
    if not _is_int(seed) or seed < 0:
        raise UserError(f"{path}: seed: {seed!r} is not allowed; it must be an integer >= 0")
    return seed
