"""Refuse work that cannot fit in memory before it starts, with a clear message.

The estimates are deliberately rough upper bounds; what matters is that a request for, say,
a batch of ten million images fails at once with a sentence instead of minutes later with
the operating system killing the process.
"""

from __future__ import annotations

import os

from ganmc.core.errors import ConfigError

#: Bytes one image of a batch costs in activations (float32). Measured: the dcgan preset
#: with the fanogan score grows by about 40 kB per image of the batch; this is 50 kB.
_ACTIVATION_BYTES_PER_IMAGE = 28 * 28 * 4 * 16
#: Share of the available memory one request may plan to use.
_SHARE = 0.5

#: Most bytes the arrays of one model folder (``arrays.npz``) may take once read as float64
#: (what scores become), all of them together; checked from each array's header before
#: anything is inflated. Loading makes about two more copies (checks, a sorted copy), so a
#: model's arrays cost at most about 800 MB. The shipped model's take 18 MB; the largest a
#: model writes, an exact Monte Carlo run per score, 16 MB each.
MAX_MODEL_ARRAY_BYTES = 256 * 2**20
#: Most images one input or data file may hold, and one command may read from all its inputs
#: together; checked from the header (IDX, .npz) before anything is inflated. Scoring costs
#: about 8 kB per image at its peak, so this bounds a command's memory to about 2 GB.
MAX_IMAGES = 250_000
#: Most bytes one image array of an input or data file (.npz member) may inflate to
#: (250,000 images as float32; float64 images of that many must be stored as uint8).
MAX_IMAGE_ARRAY_BYTES = MAX_IMAGES * 784 * 4


def available_memory() -> int | None:
    """Bytes of memory available now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(what: str, needed: int, available: int | None = None) -> None:
    """Raise ConfigError if ``needed`` bytes exceed the allowed share of free memory."""
    available = available_memory() if available is None else available
    if available is not None and needed > _SHARE * available:
        raise ConfigError(
            f"{what} would need about {needed / 2**30:.1f} GiB of memory, more than half of "
            f"the {available / 2**30:.1f} GiB available; use fewer images or a smaller batch")


def training_bytes(n_images: int, batch_size: int, n_outliers: int = 0) -> int:
    """Training data and the shape network's outliers as float32 twice each (array +
    tf.data copy) plus a batch's activations."""
    return ((n_images + n_outliers) * 784 * 4 * 2
            + batch_size * _ACTIVATION_BYTES_PER_IMAGE * 3)


def simulation_bytes(batch_size: int, kept_scores: int) -> int:
    """One batch's activations plus the exact scores kept (float64, and a sorted copy)."""
    return batch_size * _ACTIVATION_BYTES_PER_IMAGE + kept_scores * 8 * 3
