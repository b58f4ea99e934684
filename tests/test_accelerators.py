"""Several devices: MirroredStrategy on two logical CPU devices, in a fresh process (TensorFlow
fixes its devices at start-up)."""

import subprocess
import sys

from tests.helpers import REPO

SCRIPT = """
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
devices = [device.name for device in tf.config.list_logical_devices("CPU")]

from denoising.train.accelerators import distribution_strategy
from denoising.train.models import build_model
from denoising.params import ConvParams

assert distribution_strategy("off", devices).num_replicas_in_sync == 1
assert distribution_strategy("auto", devices[:1]).num_replicas_in_sync == 1
strategy = distribution_strategy("auto", devices)
assert isinstance(strategy, tf.distribute.MirroredStrategy)
with strategy.scope():
    model = build_model("conv", ConvParams(filters=[4]), (8, 8, 1), 0.001, "mse")
clean = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
history = model.fit(clean + 0.1, clean, epochs=2, batch_size=8, verbose=0)
print("replicas", strategy.num_replicas_in_sync, "loss", history.history["loss"][-1])

# The train stage's batches for blind, fresh-noise and streamed training come through tf.data.
from denoising.train.batches import NoisyBatches
from denoising.train.plan import Corruption

batches = NoisyBatches(clean, Corruption("gaussian", 0.1, True, "clean"), 8, 0)
history = model.fit(batches.dataset(2), epochs=2, steps_per_epoch=len(batches), verbose=0)
print("tf.data epochs", len(history.history["loss"]))
"""


def test_mirrored_strategy_trains_on_two_logical_devices():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2 loss" in result.stdout
    assert "tf.data epochs 2" in result.stdout
