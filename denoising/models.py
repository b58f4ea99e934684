"""Keras model builders, looked up by name in ``BUILDERS``."""

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path

# Quiets TensorFlow's C++ info logs, which would bury the one line per epoch that users read.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from denoising.files import atomic_path  # noqa: E402

# A .keras file is a zip archive. Keras stamps it with the save time (in metadata.json and on the
# weights entry) and numbers shared layers by their memory address (in config.json). We pin all
# three, so that the same training gives the same bytes and DVC sees no change.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SHARED_ID = re.compile(rb'"shared_object_id": (\d+)')


def build_dense(input_shape: tuple[int, int, int]) -> keras.Model:
    """The original design: flatten to 784, Dense(128, relu) encoder, Dense(784, sigmoid) out."""
    inputs = keras.Input(shape=input_shape, name="noisy")
    flat = layers.Flatten()(inputs)
    encoded = layers.Dense(128, activation="relu", name="encoder")(flat)
    decoded = layers.Dense(flat.shape[-1], activation="sigmoid", name="decoder")(encoded)
    outputs = layers.Reshape(input_shape, name="denoised")(decoded)
    return keras.Model(inputs, outputs, name="dense_autoencoder")


BUILDERS = {"dense": build_dense}


def build_model(
    name: str, input_shape: tuple[int, int, int], learning_rate: float, loss: str
) -> keras.Model:
    """Build model ``name`` and compile it with Adam and ``loss``."""
    model = BUILDERS[name](input_shape)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
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
