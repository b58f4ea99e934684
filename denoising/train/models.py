"""Keras model builders, looked up by name in ``BUILDERS``."""

import json
import re
import tempfile
import zipfile
from pathlib import Path

# TensorFlow's C++ logs are quieted in denoising/__init__.py, before this import.
import keras
from keras import layers

from denoising.files import FIXED_ZIP_TIME, atomic_path
from denoising.params import ConvParams, DenseParams, DncnnParams, DrunetParams, UnetParams

# A .keras file is a zip archive. Keras stamps it with the save time (in metadata.json and on the
# weights entry) and numbers shared layers by their memory address (in config.json). We pin all
# three (the time as files.FIXED_ZIP_TIME), so that the same training gives the same bytes and
# DVC sees no change.
SHARED_ID = re.compile(rb'"shared_object_id": (\d+)')


def _inputs(image_shape: tuple[int, int, int], level_input: bool, fixed: bool = False):
    """The model's input (of any height and width unless ``fixed``) and the image in it: with
    ``level_input``, the input has one channel more, the noise level (``noise_map``)."""
    height, width, channels = image_shape if fixed else (None, None, image_shape[-1])
    inputs = keras.Input(shape=(height, width, channels + level_input), name="noisy")
    return inputs, (inputs[..., :channels] if level_input else inputs)


def build_dense(
    image_shape: tuple[int, int, int], params: DenseParams, level_input: bool = False
) -> keras.Model:
    """The original design, generalised: flatten, Dense(relu) per width in ``params.hidden``,
    Dense(sigmoid) back to every pixel. Only takes images of its training size."""
    inputs, _ = _inputs(image_shape, level_input, fixed=True)
    x = layers.Flatten()(inputs)
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    for index, width in enumerate(params.hidden):
        name = "encoder" if index == 0 else f"hidden_{index}"
        x = layers.Dense(width, activation="relu", name=name)(x)
    x = layers.Dense(pixels, activation="sigmoid", name="decoder")(x)
    outputs = layers.Reshape(image_shape, name="denoised")(x)
    return keras.Model(inputs, outputs, name="dense")


def build_conv(
    image_shape: tuple[int, int, int], params: ConvParams, level_input: bool = False
) -> keras.Model:
    """The keras.io denoising autoencoder: Conv2D + max-pooling per entry of ``params.filters``,
    then as many stride-2 transposed convolutions, and a sigmoid Conv2D to one image."""
    inputs, _ = _inputs(image_shape, level_input)
    x = inputs
    for filters in params.filters:
        x = layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    for filters in reversed(params.filters):
        x = layers.Conv2DTranspose(filters, 3, strides=2, activation="relu", padding="same")(x)
    outputs = layers.Conv2D(image_shape[-1], 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="conv")


def build_dncnn(
    image_shape: tuple[int, int, int], params: DncnnParams, level_input: bool = False
) -> keras.Model:
    """DnCNN (Zhang et al. 2017): the network predicts the noise, and the output is
    clean = noisy - noise, clipped to [0, 1] by a ReLU capped at 1."""
    inputs, image = _inputs(image_shape, level_input)
    x = layers.Conv2D(params.filters, 3, padding="same", activation="relu")(inputs)
    for _ in range(params.depth - 2):
        x = layers.Conv2D(params.filters, 3, padding="same", use_bias=not params.batch_norm)(x)
        if params.batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    return keras.Model(inputs, _output(image, x, residual=True, kernel=3), name="dncnn")


def _conv_block(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def _blur_pool(x):
    """N2V2's max-blur-pool (Zhang 2019): a 2x2 max at stride 1, a [1, 2, 1] binomial blur (two
    2x2 means), then every second pixel. Built from stock layers, so a saved model needs no
    custom code to load."""
    x = layers.MaxPooling2D(2, strides=1, padding="same")(x)
    x = layers.AveragePooling2D(2, strides=1, padding="same")(x)
    x = layers.AveragePooling2D(2, strides=1, padding="same")(x)
    return layers.AveragePooling2D(1, strides=2)(x)


def build_unet(
    image_shape: tuple[int, int, int], params: UnetParams, level_input: bool = False
) -> keras.Model:
    """A small U-Net: ``params.depth`` poolings (max, or N2V2's blur-pool), filters doubling from
    ``params.base_filters``, skip connections concatenated on the way up (N2V2 drops the top
    one: it lets a blind-spot network leave checkerboard artefacts), sigmoid output."""
    inputs, image = _inputs(image_shape, level_input)
    x, skips = inputs, []
    for level in range(params.depth):
        x = _conv_block(x, params.base_filters * 2**level)
        skips.append(x)
        x = _blur_pool(x) if params.pool == "blur" else layers.MaxPooling2D(2)(x)
    x = _conv_block(x, params.base_filters * 2**params.depth)
    for level in reversed(range(params.depth)):
        x = layers.Conv2DTranspose(params.base_filters * 2**level, 2, strides=2)(x)
        if level > 0 or params.top_skip:
            x = layers.Concatenate()([x, skips[level]])
        x = _conv_block(x, params.base_filters * 2**level)
    return keras.Model(inputs, _output(image, x, params.residual, 1), name="unet")


def _output(image, features, residual: bool, kernel: int):
    """The last layer: with ``residual``, the noise is predicted and subtracted from the input
    image, clipped to [0, 1] (residual learning, as DnCNN); otherwise a sigmoid gives the
    image. The noise layer starts at zero, so a new residual model is the identity: with a
    random start, the predicted noise can exceed the image everywhere, the clip then passes no
    gradient, and training never leaves an all-black output (drunet did so at sigma 50)."""
    channels = image.shape[-1]
    if not residual:
        return layers.Conv2D(channels, kernel, padding="same", activation="sigmoid")(features)
    noise = layers.Conv2D(
        channels, kernel, padding="same", kernel_initializer="zeros", name="predicted_noise"
    )(features)
    return layers.ReLU(max_value=1.0, name="clip")(layers.Subtract()([image, noise]))


def _residual_block(x, width: int):
    """conv-ReLU-conv added back to its input, as in DRUNet (no batch norm)."""
    y = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(width, 3, padding="same")(y)
    return layers.Add()([x, y])


def build_drunet(
    image_shape: tuple[int, int, int], params: DrunetParams, level_input: bool = False
) -> keras.Model:
    """A DRUNet-shaped residual U-Net (Zhang et al. 2021): ``params.blocks`` residual blocks at
    every scale, 2x2 strided convolutions down and transposed convolutions up between the
    ``params.widths``, additive skips, no batch norm. Widths that grow downwards put most of the
    work at the lower scales, which is what makes it affordable on a CPU."""
    inputs, image = _inputs(image_shape, level_input)
    widths = params.widths
    x = layers.Conv2D(widths[0], 3, padding="same")(inputs)
    skips = []
    for scale, width in enumerate(widths[:-1]):
        for _ in range(params.blocks):
            x = _residual_block(x, width)
        skips.append(x)
        x = layers.Conv2D(widths[scale + 1], 2, strides=2, use_bias=False)(x)
    for _ in range(params.blocks):
        x = _residual_block(x, widths[-1])
    for scale in reversed(range(len(widths) - 1)):
        x = layers.Conv2DTranspose(widths[scale], 2, strides=2, use_bias=False)(x)
        x = layers.Add()([x, skips[scale]])
        for _ in range(params.blocks):
            x = _residual_block(x, widths[scale])
    return keras.Model(inputs, _output(image, x, params.residual, 3), name="drunet")


BUILDERS = {
    "dense": build_dense,
    "conv": build_conv,
    "dncnn": build_dncnn,
    "unet": build_unet,
    "drunet": build_drunet,
}


def build_model(
    name: str,
    params,
    image_shape: tuple[int, int, int],
    learning_rate: float,
    loss,
    jit_compile: bool = False,
    level_input: bool = False,
) -> keras.Model:
    """Build model ``name`` from its params section and compile it with Adam and ``loss`` (a
    name, or a Keras loss function). With ``level_input``, it takes the noise level as an
    extra input channel (``noise_map``)."""
    model = BUILDERS[name](image_shape, params, level_input)
    if keras.mixed_precision.global_policy().name.startswith("mixed_"):
        # Under mixed precision, the loss must see float32 outputs to stay stable.
        outputs = layers.Activation("linear", dtype="float32", name="float32")(model.output)
        model = keras.Model(model.input, outputs, name=model.name)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)
    return model


def save_model(model: keras.Model, path: Path) -> None:
    """Save ``model`` as a ``.keras`` file, atomically, with no timestamps inside."""
    with tempfile.TemporaryDirectory() as scratch, atomic_path(path) as pinned:
        stamped = Path(scratch) / "model.keras"
        model.save(stamped)
        with zipfile.ZipFile(stamped) as source, zipfile.ZipFile(pinned, "w") as target:
            for entry in source.infolist():
                data = source.read(entry)
                if entry.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata).encode()
                elif entry.filename == "config.json":
                    data = _renumber_shared_ids(data)
                info = zipfile.ZipInfo(entry.filename, date_time=FIXED_ZIP_TIME)
                info.compress_type = entry.compress_type
                target.writestr(info, data)


def _renumber_shared_ids(config: bytes) -> bytes:
    """Replace memory addresses used as shared-object ids by 0, 1, 2... in order of appearance."""
    numbers: dict[bytes, int] = {}

    def number(match: re.Match) -> bytes:
        return b'"shared_object_id": %d' % numbers.setdefault(match[1], len(numbers))

    return SHARED_ID.sub(number, config)
