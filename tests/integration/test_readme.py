"""The README's Python examples run as written (only the sizes shrunk to test size)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

#: What the test changes in the examples, each found as written: the sizes (a tiny training
#: run, a small simulation), the bundled digits (nothing downloads in tests) and the folder.
SHRINK = [
    ('load_mnist("auto"', 'load_mnist("bundled"'),
    ('preset="quick")', 'preset="quick", steps=60, encoder_steps=20, mc_samples=1000)'),
    ("run_monte_carlo(1_000_000", "run_monte_carlo(2_000"),
]


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_its_examples():
    assert len(python_blocks()) >= 2


@pytest.mark.slow
def test_the_readmes_python_examples_run(tmp_path, monkeypatch):
    """Issue 35: ``mc.summary(percentile=99)`` in the README raised TypeError. Every Python
    block runs, in order, in one namespace (the drift example gets ``x``: test images)."""
    monkeypatch.chdir(tmp_path)  # det.save("models/zero") writes here
    namespace: dict = {}
    for i, block in enumerate(python_blocks()):
        for old, new in SHRINK:
            block = block.replace(old, new)
        if "det.drift(x)" in block:
            namespace["x"] = namespace["data"].x_test[:60]
        exec(compile(block, f"README.md, Python block {i + 1}", "exec"), namespace)
    text = "".join(python_blocks())
    assert all(old in text for old, _ in SHRINK)  # each shrink met its line
    assert (tmp_path / "models" / "zero").is_dir()
    assert namespace["det"].threshold_ is not None
