"""Load and validate ``params.yaml``: one frozen dataclass per stage section.

Each problem becomes one line that names the key, the value and what is allowed. Unknown keys are
errors too, so a typo such as ``epoch:`` is never silently ignored.
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from denoising.errors import UserError
from denoising.names import (
    BASELINE_NAMES,
    BEST,
    BLIND,
    COLOR_ONLY,
    COLORS,
    DATA_COLORS,
    REAL,
    SELF_SUPERVISED,
    TARGETS,
    TRAIN_REFERENCES,
)

LOSSES = ("binary_crossentropy", "mse", "mae")
SCHEDULES = ("constant", "cosine")
NOISE_TYPES = ("gaussian", "poisson", "poisson_gaussian", "camera", "salt_and_pepper", "speckle")
UNET_POOLS = ("max", "blur")
# train.mixed_precision: off, float16 compute (true; GPUs), or bfloat16 (CPUs with AVX512-BF16
# or AMX, and recent GPUs).
BFLOAT16 = "bfloat16"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rule(check, allowed: str, **default):
    """A dataclass field whose value must pass ``check``; ``allowed`` says what passes. With a
    ``default=``, the key may be left out."""
    return field(metadata={"check": check, "allowed": allowed}, **default)


# YAML 1.1 reads an unquoted on/off (or yes/no, true/false) as a boolean, and so does
# `dvc exp run -S train.stream=off`; fields that take the words on/off read booleans as them.
SWITCH_WORDS = {True: "on", False: "off"}


def _switch(words: tuple[str, ...]):
    """A field that takes one of ``words``; a YAML boolean counts as on or off."""
    allowed = f"{', '.join(words[:-1])} or {words[-1]}"
    return field(metadata={"check": lambda v: v in words, "allowed": allowed, "switch": True})


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _positive_number(value: Any) -> bool:
    return _is_number(value) and value > 0


def _level(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _levels(value: Any) -> bool:
    if value == [REAL]:
        return True
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(map(_level, value))
        and len(set(value)) == len(value)
    )


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
    on_error: str = _rule(lambda v: v in ("skip", "fail"), "skip or fail")
    max_pixels: int = _rule(_positive_int, "an integer >= 1 (width x height of one image)")
    mode: str = _rule(lambda v: v in ("resize", "patches"), "resize or patches")
    patch_size: int = _rule(_positive_int, "an integer >= 1 (pixels)")
    patches_per_image: int = _rule(_positive_int, "an integer >= 1")
    test_crop: int = _rule(_positive_int, "an integer >= 1 (pixels)")
    workers: int = _rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0: all cores)")
    color: str = _rule(lambda v: v in DATA_COLORS, " or ".join(DATA_COLORS), default="gray")

    @property
    def channels(self) -> int:
        """The channels of every array: 1 (grey) or 3 (R, G, B)."""
        return DATA_COLORS[self.color]

    @property
    def shape(self) -> tuple[int, int]:
        """The (height, width) that every image is resized to in mode ``resize``."""
        size = self.image_size
        return (size, size) if _is_int(size) else (size[0], size[1])


@dataclass(frozen=True)
class NoiseParams:
    type: str = _rule(
        lambda v: v in (*NOISE_TYPES, REAL), f"one of {', '.join(NOISE_TYPES)} or {REAL}"
    )
    levels: list = _rule(_levels, f"a non-empty list of distinct numbers in [0, 1], or [{REAL}]")
    clip: bool = _rule(lambda v: isinstance(v, bool), "true or false")


def _positive_int_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(map(_positive_int, value))


@dataclass(frozen=True, kw_only=True)
class ModelParams:
    """Training knobs that a model's own section may set (epochs, batch_size, learning_rate,
    fresh_noise, augment, schedule); those left out come from ``train``."""

    epochs: int | None = _rule(_positive_int, "an integer >= 1", default=None)
    batch_size: int | None = _rule(_positive_int, "an integer >= 1", default=None)
    learning_rate: float | None = _rule(_positive_number, "a number > 0", default=None)
    fresh_noise: bool | None = _rule(lambda v: isinstance(v, bool), "true or false", default=None)
    augment: bool | None = _rule(lambda v: isinstance(v, bool), "true or false", default=None)
    schedule: str | None = _rule(lambda v: v in SCHEDULES, " or ".join(SCHEDULES), default=None)

    # The size contract, decided here once: train checks its arrays against it, and the model
    # card carries it to denoise-images. A fixed-size model takes only its training size.
    fixed_size: ClassVar[bool] = False

    @property
    def size_multiple(self) -> int:
        """Image height and width must be multiples of this (2 per pooling)."""
        return 1


@dataclass(frozen=True, kw_only=True)
class DenseParams(ModelParams):
    hidden: list = _rule(_positive_int_list, "a non-empty list of layer widths (integers >= 1)")
    fixed_size: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class ConvParams(ModelParams):
    filters: list = _rule(_positive_int_list, "a non-empty list of filter counts (integers >= 1)")

    @property
    def size_multiple(self) -> int:
        return 2 ** len(self.filters)


@dataclass(frozen=True, kw_only=True)
class DncnnParams(ModelParams):
    depth: int = _rule(lambda v: _is_int(v) and v >= 3, "an integer >= 3")
    filters: int = _rule(_positive_int, "an integer >= 1")
    batch_norm: bool = _rule(lambda v: isinstance(v, bool), "true or false")


@dataclass(frozen=True, kw_only=True)
class UnetParams(ModelParams):
    depth: int = _rule(_positive_int, "an integer >= 1")
    base_filters: int = _rule(_positive_int, "an integer >= 1")
    residual: bool = _rule(lambda v: isinstance(v, bool), "true or false", default=False)
    top_skip: bool = _rule(lambda v: isinstance(v, bool), "true or false", default=True)
    pool: str = _rule(lambda v: v in UNET_POOLS, " or ".join(UNET_POOLS), default="max")

    @property
    def size_multiple(self) -> int:
        return 2**self.depth


@dataclass(frozen=True, kw_only=True)
class DrunetParams(ModelParams):
    widths: list = _rule(_positive_int_list, "a non-empty list of widths, one per scale")
    blocks: int = _rule(_positive_int, "an integer >= 1 (residual blocks at every scale)")
    residual: bool = _rule(lambda v: isinstance(v, bool), "true or false")

    @property
    def size_multiple(self) -> int:
        return 2 ** (len(self.widths) - 1)


MODEL_PARAMS = {
    "dense": DenseParams,
    "conv": ConvParams,
    "dncnn": DncnnParams,
    "unet": UnetParams,
    "drunet": DrunetParams,
}
MODEL_NAMES = tuple(MODEL_PARAMS)


@dataclass(frozen=True)
class TrainParams:
    models: list = _rule(
        lambda v: (
            isinstance(v, list)
            and len(v) > 0
            and all(m in MODEL_NAMES for m in v)
            and len(set(v)) == len(v)
        ),
        f"a non-empty list of distinct names from {', '.join(MODEL_NAMES)}",
    )
    blind_models: list = _rule(
        lambda v: (
            isinstance(v, list) and all(m in MODEL_NAMES for m in v) and len(set(v)) == len(v)
        ),
        f"a list (maybe empty) of distinct names from {', '.join(MODEL_NAMES)}",
    )
    noise_range: list = _rule(
        lambda v: isinstance(v, list) and len(v) == 2 and all(map(_level, v)) and v[0] < v[1],
        "[low, high]: two numbers in [0, 1], low < high",
    )
    blind_epochs: int = _rule(_positive_int, "an integer >= 1")
    level_input: bool = _rule(lambda v: isinstance(v, bool), "true or false")
    fresh_noise: bool = _rule(lambda v: isinstance(v, bool), "true or false")
    augment: bool = _rule(lambda v: isinstance(v, bool), "true or false")
    schedule: str = _rule(lambda v: v in SCHEDULES, " or ".join(SCHEDULES))
    target: str = _rule(lambda v: v in TARGETS, f"one of {', '.join(TARGETS)}")
    mask_fraction: float = _rule(
        lambda v: _is_number(v) and 0 < v <= 0.25, "a number in (0, 0.25] (share of pixels)"
    )
    ne2ne_gamma: float = _rule(lambda v: _is_number(v) and v >= 0, "a number >= 0")
    epochs: int = _rule(_positive_int, "an integer >= 1")
    batch_size: int = _rule(_positive_int, "an integer >= 1")
    learning_rate: float = _rule(_positive_number, "a number > 0")
    loss: str = _rule(lambda v: v in LOSSES, f"one of {', '.join(LOSSES)}")
    validation_split: float = _rule(
        lambda v: _is_number(v) and 0 < v < 1, "a number between 0 and 1 (exclusive)"
    )
    patience: int = _rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0 turns it off)")
    init: str = _rule(
        lambda v: isinstance(v, str), 'a folder with a trained model.keras, or "" (none)'
    )
    mixed_precision: bool | str = _rule(
        lambda v: isinstance(v, bool) or v == BFLOAT16, "false, true (float16, GPUs) or bfloat16"
    )
    jit_compile: bool = _rule(lambda v: isinstance(v, bool), "true or false")
    distribute: str = _switch(("auto", "off"))
    stream: str = _switch(("auto", "on", "off"))


@dataclass(frozen=True)
class DenoiseParams:
    batch_size: int = _rule(_positive_int, "an integer >= 1")
    tta: bool = _rule(lambda v: isinstance(v, bool), "true or false")


def _baseline_list(value: Any) -> bool:
    return isinstance(value, list) and all(name in BASELINE_NAMES for name in value)


@dataclass(frozen=True)
class BaselinesParams:
    methods: list = _rule(_baseline_list, f"a list of names from {', '.join(BASELINE_NAMES)}")
    max_images: int = _rule(_positive_int, "an integer >= 1")
    workers: int = _rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0: all cores)")
    gaussian_sigma: float = _rule(_positive_number, "a number > 0 (pixels)")
    median_size: int = _rule(_positive_int, "an integer >= 1 (pixels)")


@dataclass(frozen=True)
class VisualizeParams:
    n_samples: int = _rule(_positive_int, "an integer >= 1")
    baselines: list = _rule(_baseline_list, f"a list of names from {', '.join(BASELINE_NAMES)}")


@dataclass(frozen=True)
class ApplyParams:
    model: str = _rule(
        lambda v: (
            isinstance(v, str) and v.count("/") == 1 and v.split("/")[0] in (*MODEL_NAMES, BEST)
        ),
        f"<model>/<level> or <model>/blind, with a model from {', '.join(MODEL_NAMES)}; or "
        f"{BEST}/<level>: the method compare measured best there",
    )
    input_dir: str = _rule(lambda v: isinstance(v, str) and v != "", "a folder path")
    tile: int = _rule(lambda v: _is_int(v) and v >= 8, "an integer >= 8 (pixels)")
    overlap: int = _rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0 (pixels)")
    batch: int = _rule(_positive_int, "an integer >= 1")
    color: str = _rule(lambda v: v in COLORS, " or ".join(COLORS))
    resize: bool = _rule(lambda v: isinstance(v, bool), "true or false")


# Every section of params.yaml, and the class that validates it ("models" holds one section
# per architecture, validated by MODEL_PARAMS).
SECTIONS = {
    "data": DataParams,
    "noise": NoiseParams,
    "train": TrainParams,
    "denoise": DenoiseParams,
    "baselines": BaselinesParams,
    "apply": ApplyParams,
    "visualize": VisualizeParams,
}
TOP_LEVEL = ("seed", *SECTIONS, "models")


def validate_params(path: Path) -> None:
    """Check the whole params file at once: every section and key, and the rules between
    sections, so that a typo is caught before any stage runs, not only when DVC happens to
    rerun the stage that reads it. Raises one ``UserError`` with a line per problem."""
    data = read_params(path)
    problems = [
        f"{path}: {key}: unknown section; known sections are {', '.join(TOP_LEVEL)}"
        for key in data
        if key not in TOP_LEVEL
    ]
    built = {}
    for name, cls in [*SECTIONS.items(), *((f"models.{m}", MODEL_PARAMS[m]) for m in MODEL_NAMES)]:
        section = data.get(name.split(".")[0])
        if name.startswith("models."):
            if not isinstance(section, dict) or name[7:] not in section:
                continue  # A model's section is needed only if it is trained (checked below).
            section = section[name[7:]]
        try:
            built[name] = build_section(path, name, section, cls)
        except UserError as error:
            problems.extend(str(error).splitlines())
    models = data.get("models")
    if not isinstance(models, dict):
        problems.append(f"{path}: section 'models' is missing or is not a mapping")
    else:
        problems.extend(
            f"{path}: models.{key}: unknown model; known models are {', '.join(MODEL_NAMES)}"
            for key in models
            if key not in MODEL_NAMES
        )
    try:
        load_seed(path)
    except UserError as error:
        problems.append(str(error))
    problems.extend(cross_section_problems(path, built, models))
    if problems:
        raise UserError("\n".join(problems))


def cross_section_problems(path: Path, built: dict, models) -> list[str]:
    """The rules between sections, for the sections that are valid by themselves."""
    problems = []
    train, noise = built.get("train"), built.get("noise")
    if train is not None and isinstance(models, dict):
        problems.extend(
            f"{path}: models.{name}: missing; train.models or train.blind_models names it"
            for name in dict.fromkeys([*train.models, *train.blind_models])
            if name not in models
        )
    if noise is not None and (noise.type == REAL) != (noise.levels == [REAL]):
        problems.append(
            f"{path}: noise.levels: {noise.levels!r} does not go with noise.type {noise.type}; "
            f"real noise has the one level [{REAL}], and [{REAL}] needs noise.type {REAL}"
        )
    if noise is not None and noise.type == "camera" and not noise.clip:
        problems.append(
            f"{path}: noise.clip: false does not go with noise.type camera, which stores every "
            "noisy image as an 8-bit JPEG, clipped to [0, 1]; set noise.clip: true"
        )
    real = noise is not None and noise.type == REAL
    data = built.get("data")
    references = data is not None and (Path(data.dir) / TRAIN_REFERENCES).is_dir()
    if real and train is not None and train.target == "clean" and not references:
        problems.append(
            f"{path}: train.target: clean needs clean images, and with noise.type {REAL} "
            f"data.dir has none (no {TRAIN_REFERENCES}/ folder of clean references); use one of "
            f"{', '.join(SELF_SUPERVISED)}, or noisy with real pairs (data.dir/train_b/)"
        )
    if train is not None and (train.target in SELF_SUPERVISED or real) and train.blind_models:
        problems.append(
            f"{path}: train.blind_models: must be [] with train.target {train.target} and "
            f"noise.type {noise.type if noise else '?'}: a blind model draws its noise from "
            "clean images, and there are none"
        )
    fixed = [m for m in train.models if MODEL_PARAMS[m].fixed_size] if train else []
    if train is not None and train.target == "ne2ne" and fixed:
        problems.append(
            f"{path}: train.models: {', '.join(fixed)} takes only its training size, and "
            "train.target ne2ne trains on half-size sub-images; use conv, dncnn, unet or drunet"
        )
    visualize, baselines = built.get("visualize"), built.get("baselines")
    if data is not None and baselines is not None and data.color != "rgb":
        problems.extend(
            f"{path}: baselines.methods: {name} denoises colour images; it needs data.color rgb "
            "(bm3d is its grey counterpart)"
            for name in baselines.methods
            if name in COLOR_ONLY
        )
    if visualize is not None and baselines is not None:
        problems.extend(
            f"{path}: visualize.baselines: {name!r} is not run; it must be one of "
            f"baselines.methods ({', '.join(baselines.methods) or 'none'})"
            for name in visualize.baselines
            if name not in baselines.methods
        )
    apply = built.get("apply")
    if apply is not None and train is not None and noise is not None:
        model, level = apply.model.split("/")
        if model == BEST:
            trained = level in {str(v) for v in noise.levels}
            where = "noise.levels"
        elif level == BLIND:
            trained = model in train.blind_models
            where = "train.blind_models"
        else:
            # DVC names the folders models/<model>/<level> with the level as YAML wrote it.
            trained = model in train.models and level in {str(v) for v in noise.levels}
            where = "train.models, with a level from noise.levels"
        if not trained and model == BEST:
            problems.append(
                f"{path}: apply.model: {apply.model!r} is not compared; its level must be in "
                f"{where}"
            )
        elif not trained:
            problems.append(
                f"{path}: apply.model: {apply.model!r} is not trained; it must be "
                f"<model>/<level> with a model in {where}"
                if level != BLIND
                else f"{path}: apply.model: {apply.model!r} is not trained; its model must be "
                f"in {where}"
            )
        if apply.overlap > apply.tile // 2:
            problems.append(
                f"{path}: apply.overlap: {apply.overlap} is not allowed; it must be at most "
                f"half of apply.tile ({apply.tile // 2})"
            )
    return problems


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
    """Build ``cls`` from section ``name`` (dotted for nested: ``models.conv``) of the params
    file, or raise one ``UserError`` with a line per problem."""
    section = read_params(path)
    for part in name.split("."):
        section = section.get(part) if isinstance(section, dict) else None
    return build_section(path, name, section, cls)


def build_section(path: Path, name: str, section: Any, cls: type):
    """Build ``cls`` from the mapping ``section`` (named ``name`` in the file at ``path``), or
    raise one ``UserError`` with a line per problem: unknown, missing or disallowed keys."""
    if not isinstance(section, dict):
        raise UserError(f"{path}: section '{name}' is missing or is not a mapping")
    switches = {f.name for f in dataclasses.fields(cls) if f.metadata.get("switch")}
    section = {
        key: SWITCH_WORDS[value] if key in switches and isinstance(value, bool) else value
        for key, value in section.items()
    }
    known = {f.name: f for f in dataclasses.fields(cls)}
    problems = [
        f"{name}.{key}: unknown key; known keys are {', '.join(known)}"
        for key in section
        if key not in known
    ]
    for key, spec in known.items():
        if key not in section:
            if spec.default is dataclasses.MISSING:
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


def training_for(train: TrainParams, model: ModelParams) -> TrainParams:
    """The training knobs for one model: ``train``'s, with the model section's overrides."""
    overrides = {
        f.name: getattr(model, f.name)
        for f in dataclasses.fields(ModelParams)
        if getattr(model, f.name) is not None
    }
    return dataclasses.replace(train, **overrides)
