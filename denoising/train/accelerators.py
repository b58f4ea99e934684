"""Accelerator settings for training: mixed precision, XLA, and several devices."""

import logging

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


def distribution_strategy(mode: str, devices: list[str] | None = None) -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU (or the given devices) when there are several and
    ``mode`` is "auto"; otherwise the default strategy (one device)."""
    if devices is None:
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    if mode == "auto" and len(devices) > 1:
        log.info("training on %d devices with MirroredStrategy", len(devices))
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


POLICIES = {False: "float32", True: "mixed_float16", "bfloat16": "mixed_bfloat16"}


def set_precision(mixed: bool | str) -> None:
    """float16 (``True``) or bfloat16 compute with float32 weights, where the hardware gains
    from it: float16 on GPUs, bfloat16 on CPUs with AVX512-BF16 or AMX; ``False``: float32."""
    keras.mixed_precision.set_global_policy(POLICIES[mixed])
