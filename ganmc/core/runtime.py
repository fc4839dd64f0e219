"""Start TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow's native libraries write informational lines (oneDNN notices, "no CUDA driver")
straight to file descriptor 2 before any Python logging setting can apply, so
``TF_CPP_MIN_LOG_LEVEL`` does not hide them. The front ends (CLI, dashboard) call
:func:`quiet_tensorflow` once; set ``GANMC_TF_VERBOSE=1`` to see everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Hide what native code writes to file descriptor 2 inside the block (unless
    ``GANMC_TF_VERBOSE`` is set)."""
    if os.environ.get("GANMC_TF_VERBOSE"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. embedded): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow and look up its devices with native stderr output hidden, and keep
    TensorFlow's own Python warnings (retracing notes and the like: not the user's to act on)
    off the terminal, unless ``verbose`` or ``GANMC_TF_VERBOSE``."""
    if not (verbose or os.environ.get("GANMC_TF_VERBOSE")):
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(0.0) + 1.0  # initialises the device runtime, which logs once
