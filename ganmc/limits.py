"""Refuse work that cannot fit in memory before it starts, with a clear message.

The estimates are deliberately rough upper bounds; what matters is that a request for, say,
a batch of ten million images fails at once with a sentence instead of minutes later with
the operating system killing the process.
"""

from __future__ import annotations

import os

from ganmc.errors import ConfigError

#: Bytes one image of a batch costs in activations (float32). Measured: the dcgan preset
#: with the fanogan score grows by about 40 kB per image of the batch; this is 50 kB.
_ACTIVATION_BYTES_PER_IMAGE = 28 * 28 * 4 * 16
#: Share of the available memory one request may plan to use.
_SHARE = 0.5


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


def training_bytes(n_images: int, batch_size: int) -> int:
    """Training data as float32 twice (array + tf.data copy) plus a batch's activations."""
    return n_images * 784 * 4 * 2 + batch_size * _ACTIVATION_BYTES_PER_IMAGE * 3


def simulation_bytes(batch_size: int, kept_scores: int) -> int:
    """One batch's activations plus the exact scores kept (float64, and a sorted copy)."""
    return batch_size * _ACTIVATION_BYTES_PER_IMAGE + kept_scores * 8 * 3
