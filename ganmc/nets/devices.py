"""The device TensorFlow trains on, the distribution strategy over several GPUs, and the
training precision there."""

from __future__ import annotations

import os

import tensorflow as tf


def describe_device() -> str:
    """Name the device TensorFlow will train on, e.g. ``"GPU (1x NVIDIA H200)"`` or ``"CPU"``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for g in gpus:
            try:
                names.append(tf.config.experimental.get_device_details(g).get("device_name", "GPU"))
            except Exception:  # details are informative only
                names.append("GPU")
        return f"GPU ({len(gpus)}x {names[0]})"
    return f"CPU ({os.cpu_count()} cores)"


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every visible GPU when there are several, else the default.

    Several machines: set ``TF_CONFIG`` on each and pass
    ``tf.distribute.MultiWorkerMirroredStrategy()`` as ``strategy`` (see the README).
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


def train_policy(precision: str) -> str | None:
    """The Keras dtype policy to train under: mixed bfloat16 on a GPU (or when asked)."""
    if precision == "bfloat16" or (precision == "auto" and tf.config.list_physical_devices("GPU")):
        return "mixed_bfloat16"
    return None
