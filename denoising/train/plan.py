"""The training plan: which rows a model learns from and is validated on, towards which array,
with which ``Corruption`` (how its pairs are made), whether the arrays are read from memory or
from disk, and whether the model can take them. Everything here runs before TensorFlow starts,
so that a params or shape error shows at once.

The split is seeded, so the same params on the same machine give the same rows.
"""

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoising.errors import UserError
from denoising.files import load_array
from denoising.layout import SECOND, TRAIN_REFERENCES
from denoising.names import REAL, SELF_SUPERVISED
from denoising.rows import RowFile
from denoising.train.blindspot import BLIND_SPOT_MODES, MIN_SIZE

log = logging.getLogger(__name__)


# Above this many bytes of training arrays, train.stream "auto" batches them from disk.
STREAM_ABOVE_BYTES = 2**30


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, validation) indices. Keras' own split takes the last rows, which
    would be one class only when files are sorted by class folder."""
    order = np.random.default_rng(seed).permutation(count)
    n_validation = min(max(1, round(count * fraction)), count - 1)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


@dataclass(frozen=True)
class Corruption:
    """How training pairs are made: noise ``type`` (see ``noise.add_noise``) at ``levels`` (one
    level, or a [low, high] range for a blind model: a level per image), clipped to [0, 1] if
    ``clip``, with ``target`` "clean" or "noisy" (Noise2Noise); or from the noisy images alone
    (``names.SELF_SUPERVISED``), the blind-spot targets masking ``mask_fraction`` of the
    pixels. With ``level_input``, each input carries its level as an extra channel."""

    type: str
    levels: float | list
    clip: bool
    target: str
    mask_fraction: float = 0.0
    level_input: bool = False


@dataclass
class TrainingArrays:
    """The clean training images (None for the self-supervised targets, which never read them),
    their fixed noisy copies (None for blind or fresh noise), as arrays in memory or as
    ``RowFile``s read batch by batch, and the test images' shape."""

    clean: np.ndarray | RowFile | None
    noisy: np.ndarray | RowFile | None
    test_shape: tuple[int, int]
    streamed: bool

    @property
    def images(self) -> np.ndarray | RowFile:
        """The training images that set the count and shape: clean, or noisy without clean."""
        return self.clean if self.clean is not None else self.noisy


def learning_targets(noise_type: str, target: str) -> tuple[str | None, str]:
    """The preprocessed array that a model learns towards, by name (None: the self-supervised
    targets, which need none), and the ``Corruption`` target that its pairs are made with. Real
    noise with target "noisy" is Noise2Noise from real pairs: the second acquisitions (train_b)
    take the clean images' place; with target "clean", the train images' clean references
    (train_clean) do."""
    if target in SELF_SUPERVISED:
        return None, target
    if noise_type == REAL:
        return (SECOND if target == "noisy" else TRAIN_REFERENCES), "clean"
    return "train", target


def training_plan(noise, params, level) -> tuple:
    """How a model at ``level`` (None: blind, one model for every level) learns: its train
    params, the ``Corruption`` of its pairs, and the array it learns towards (as
    ``learning_targets``)."""
    blind = level is None
    if blind:  # One model for every level has the harder task, and gets its own epoch count.
        params = dataclasses.replace(params, epochs=params.blind_epochs)
    # Self-supervised targets learn from the noisy copies alone: the clean images stay closed.
    # Real pairs learn towards the second acquisitions, as others learn towards clean images.
    targets, made_with = learning_targets(noise.type, params.target)
    if noise.type == REAL:  # Real noise is what the files hold: none is drawn afresh.
        params = dataclasses.replace(params, fresh_noise=False)
    # A blind model sees a level per image drawn from train.noise_range, afresh every epoch,
    # and may be told it, as an extra input channel.
    levels = params.noise_range if blind else level
    told = blind and params.level_input and made_with not in SELF_SUPERVISED
    corruption = Corruption(
        noise.type, levels, noise.clip, made_with, params.mask_fraction, level_input=told
    )
    return params, corruption, targets


def open_arrays(
    clean_dir: Path, noisy_dir: Path | None, stream: str, targets: str | None = "train"
) -> TrainingArrays:
    """Open the training arrays (``targets``, from ``learning_targets``, in the clean images'
    place): streamed from disk for ``stream`` "on", or "auto" when they would take more than
    ``STREAM_ABOVE_BYTES`` of memory; else loaded."""
    if targets == SECOND and not (clean_dir / f"{SECOND}.npy").is_file():
        raise UserError(
            f"train.target noisy with noise.type {REAL} learns from real pairs: data.dir needs a "
            f"{SECOND}/ folder, a second noisy image of each train image with the same relative "
            "name; without pairs, use n2v, n2v2 or ne2ne"
        )
    if targets == TRAIN_REFERENCES and not (clean_dir / f"{TRAIN_REFERENCES}.npy").is_file():
        raise UserError(
            f"train.target clean with noise.type {REAL} learns towards clean references: "
            f"data.dir needs a {TRAIN_REFERENCES}/ folder, a clean image of each train image "
            "with the same relative name; without them, use n2v, n2v2 or ne2ne"
        )
    clean = None if targets is None else RowFile(clean_dir / f"{targets}.npy")
    noisy = None if noisy_dir is None else RowFile(noisy_dir / "train.npy")
    size = sum(np.prod(f.shape) * f.dtype.itemsize for f in (clean, noisy) if f is not None)
    streamed = stream == "on" or (stream == "auto" and size > STREAM_ABOVE_BYTES)
    log.info(
        "training arrays: %.1f MB, %s",
        size / 1e6,
        "streamed from disk" if streamed else "in memory",
    )
    test_shape = tuple(RowFile(clean_dir / "test.npy").shape[1:3])
    if not streamed:
        # Small enough for memory: Keras batches NumPy arrays itself, which is fastest.
        clean = None if clean is None else load_array(clean.path)
        noisy = None if noisy is None else load_array(noisy.path)
    return TrainingArrays(clean, noisy, test_shape, streamed)


def check_shapes(model: str, params, train: tuple, test: tuple, target: str = "clean") -> None:
    """Fail before training if the model cannot take the images it will be scored on: sizes
    must be multiples of its poolings, and a fixed-size model (dense) takes only its training
    size (with data.mode patches, test crops are larger than training patches). Blind-spot
    targets need a whole neighbourhood; Neighbor2Neighbor cuts images into 2x2 cells."""
    if target in BLIND_SPOT_MODES and min(train) < MIN_SIZE:
        raise UserError(
            f"train images are {train[1]}x{train[0]}; train.target {target} needs at least "
            f"{MIN_SIZE}x{MIN_SIZE} (a pixel's neighbourhood)"
        )
    if target == "ne2ne" and (train[0] % 2 or train[1] % 2):
        raise UserError(
            f"train images are {train[1]}x{train[0]}; train.target ne2ne needs an even height "
            "and width (2x2 cells); set data.image_size or data.patch_size"
        )
    multiple = params.size_multiple
    for split, shape in (("train", train), ("test", test)):
        if shape[0] % multiple or shape[1] % multiple:
            raise UserError(
                f"{split} images are {shape[1]}x{shape[0]}, which does not suit model '{model}': "
                f"height and width must be multiples of {multiple} (its poolings); set "
                "data.image_size (mode resize), or data.patch_size and data.test_crop (mode "
                "patches)"
            )
    if params.fixed_size and tuple(train) != tuple(test):
        raise UserError(
            f"model '{model}' takes only its training size, {train[1]}x{train[0]}, and cannot "
            f"score the {test[1]}x{test[0]} test images; with data.mode patches, train "
            "convolutional models (train.models: [conv], dncnn or unet), or set data.test_crop "
            "to data.patch_size"
        )


def check_init(init: str) -> None:
    """Fail at once, before TensorFlow starts, if ``train.init`` names no saved model."""
    if init and not (Path(init) / "model.keras").is_file():
        raise UserError(
            f"train.init: {init}: no model.keras there; give a folder that the train stage "
            "wrote (models/<model>/<level>, or a copy of one), or leave it empty"
        )
