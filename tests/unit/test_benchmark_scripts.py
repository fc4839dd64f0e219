"""Every script in benchmarks/ and research/ answers ``--help`` at once: its usage line, exit
status 0, and no TensorFlow imported to say it (heavy imports wait until the work starts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    f"{path.parent.name}.{path.stem}"
    for folder in ("benchmarks", "research")
    for path in (ROOT / folder).glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text()
)

# Runs the script as ``python -m NAME --help`` would, then says whether TensorFlow was loaded.
PROBE = """
import runpy, sys
sys.argv = [{name!r}, "--help"]
try:
    runpy.run_module({name!r}, run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
else:
    code = 0
print("tensorflow loaded:", "tensorflow" in sys.modules)
sys.exit(code)
"""


def test_the_scripts_are_found():
    assert {"benchmarks.quality", "benchmarks.speed", "benchmarks.presets",
            "benchmarks.oneclass", "benchmarks.oneclass_scores"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name):
    proc = subprocess.run([sys.executable, "-m", name, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: "), proc.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_imports_no_tensorflow(name):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(name=name)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("tensorflow loaded: False"), proc.stdout


def test_gpu_check_script_parses():
    proc = subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_check.sh")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
