"""Issue 34, items 6 and 7: ``ganmc report`` and ``ganmc score`` over many images stay under
the memory bound. The images become model input a slice at a time, and a report
reconstructs only the images it draws: 25,000 images took 3.65 GiB in ``report`` (then an
out-of-memory traceback), 250,000 took 2.6 GiB in ``score``. Measured in a child process
(:func:`tests.bombs.run_child`), whose peak resident memory is read by its parent."""

from __future__ import annotations

import numpy as np
import pytest

from ganmc.core.limits import MAX_IMAGES
from tests.bombs import MAX_PEAK_BYTES, run_child


def many_digits(path, mnist, n: int):
    """n real digits (40 repeated, so that the file deflates to a few hundred kB)."""
    np.savez_compressed(path, x=np.tile(mnist.x_test[:40], (n // 40, 1, 1)))
    return path


def run_command(*args: str):
    return run_child("""
        import sys
        from ganmc import cli
        sys.exit(cli.main(sys.argv[1:]))
    """, *args, timeout=1800)


@pytest.mark.slow
def test_a_report_on_25000_images_stays_within_the_memory_bound(tmp_path, mnist):
    images = many_digits(tmp_path / "x.npz", mnist, 25_000)
    child = run_command("report", "--samples", "0", str(images), "--out",
                        str(tmp_path / "r.png"))
    assert child.returncode == 0, child.stderr[-800:]
    assert (tmp_path / "r.csv").read_text().count("\n") == 1 + 2 + 25_000
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"


@pytest.mark.slow
def test_scoring_the_most_images_a_command_reads_stays_within_the_memory_bound(tmp_path,
                                                                              mnist):
    """250,000 images (``limits.MAX_IMAGES``): about two and a half minutes on 2 cores."""
    images = many_digits(tmp_path / "x.npz", mnist, MAX_IMAGES)
    child = run_command("score", str(images), "--out", str(tmp_path / "s.csv"))
    assert child.returncode == 0, child.stderr[-800:]
    assert f"Scored {MAX_IMAGES:,} images" in child.stderr
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"
