"""Helpers shared by the benchmark scripts (run by hand, never in CI)."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def machine() -> str:
    """One line naming the machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (f"{cpu}, {os.cpu_count()} cores, {'GPU: ' + str(len(gpus)) if gpus else 'no GPU'}, "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}")


def write_section(name: str, text: str) -> None:
    """Replace (or append) the section between this benchmark's markers in docs/benchmarks.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in doc:
        doc = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, doc,
                     flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(doc)


def in_use(key: str):
    """The value a product constant has now; ``key`` is ``module:expression``, e.g.
    ``ganmc.core.presets:PRESETS['quick'].minutes_2core``."""
    import importlib

    module, expression = key.split(":", 1)
    return eval(expression, vars(importlib.import_module(module)))  # our own keys only


def product_lines(figures: dict[str, float]) -> str:
    """What a benchmark measured for product constants, one line each with the value in use:
    the figures go into the benchmark's JSON under ``product``, and
    ``tests/unit/test_benchmark_figures.py`` fails until the constant equals its figure."""
    lines = []
    for key, value in figures.items():
        now = in_use(key)
        lines.append(f"{key} = {value!r}" + ("" if now == value else
                                              f"    # in use: {now!r}, change it to this"))
    return "Product constants measured here:\n" + "\n".join(lines)


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def random_strokes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n images of 1-3 random pen strokes in MNIST format, with how many strokes each has and
    whether it is one straight stroke (:func:`ganmc.images.anomalies.strokes`)."""
    from ganmc.images.anomalies import strokes

    return strokes(n, seed, counts=(1, 3))
