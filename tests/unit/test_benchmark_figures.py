"""Product constants that a benchmark measures equal the figures the benchmark wrote.

A benchmark that measures a constant (a preset's minutes, a task's slowdown, a network's
speed, the seconds a run takes besides training) writes it under ``product`` in its JSON in
docs/ (``benchmarks.common.product_lines`` prints the line to paste). These tests read the
JSON: each figure must follow from the JSON's own measurements by the benchmark's rule, and
the constant in ``ganmc`` must equal it, so neither can drift from the other unnoticed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import estimates, presets, speed, task_speed
from benchmarks.common import in_use

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _json(name: str) -> dict:
    return json.loads((DOCS / name).read_text())


#: Each JSON with product figures, and how the benchmark derives them from its measurements.
DERIVED = {
    "benchmarks-presets-quick.json":
        lambda d: presets.product_figures("quick", d["rows"]),
    "benchmarks-presets-standard.json":
        lambda d: presets.product_figures("standard", d["rows"]),
    "benchmarks-presets-thorough.json":
        lambda d: presets.product_figures("thorough", d["rows"]),
    "benchmarks-task-speed.json": lambda d: task_speed.product_figures(d["runs"]),
    "benchmarks-speed.json": speed.product_figures,
    "benchmarks-estimates.json": lambda d: estimates.product_figures(d["rows"]),
}

FIGURES = [
    pytest.param(name, key, value, id=key.split(":", 1)[1])
    for name in DERIVED
    for key, value in _json(name)["product"].items()
]


@pytest.mark.parametrize("name", list(DERIVED))
def test_figures_follow_from_the_measurements(name):
    data = _json(name)
    assert data["product"], name
    assert DERIVED[name](data) == data["product"]


@pytest.mark.parametrize(("name", "key", "value"), FIGURES)
def test_product_constant_equals_the_benchmark_figure(name, key, value):
    assert in_use(key) == value, f"{key} is {in_use(key)!r}; {name} measured {value!r}"


def test_every_product_figure_is_checked():
    """A benchmark JSON with product figures that this file does not know is a mistake."""
    written = {p.name for p in DOCS.glob("benchmarks-*.json") if "product" in _json(p.name)
               and _json(p.name)["product"]}
    assert written == set(DERIVED)
