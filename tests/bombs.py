"""Run a snippet in a child Python under a memory cap and measure its peak RSS: the bomb tests
of issue 28 assert what a hostile file costs without risking the machine running them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

#: What a bomb may cost at its peak (the issue's bound).
MAX_PEAK_BYTES = int(2.5 * 2**30)
#: The child's address-space cap: a bomb that gets through fails here instead of filling the
#: machine (TensorFlow reserves far more address space than it uses: its children get none).
_CAP_BYTES = 6 * 2**30


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int  # the child's peak resident memory


def run_child(code: str, *args: str, timeout: float = 300) -> Child:
    """Run ``code`` (dedented) in a fresh Python, its address space capped, and return its
    output and peak RSS. A wrapper process runs it and reads RUSAGE_CHILDREN: the test
    process's own figure would be the largest of all the children it ever had."""
    wrapper = textwrap.dedent("""
        import resource, subprocess, sys
        limit = int(sys.argv[1])
        def cap():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        r = subprocess.run([sys.executable, "-c", sys.argv[2], *sys.argv[3:]],
                           preexec_fn=cap, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, file=sys.stderr)
        sys.exit(r.returncode)
    """)
    env = {**os.environ, "GANMC_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", wrapper, str(_CAP_BYTES),
                        textwrap.dedent(code), *args],
                       capture_output=True, text=True, timeout=timeout, env=env)
    *err, peak = r.stderr.rstrip("\n").split("\n")
    return Child(r.returncode, r.stdout, "\n".join(err), int(peak))



def npz_of_zeros(path, name: str, shape: tuple[int, ...], dtype: str):
    """An .npz whose member ``name`` is an array of zeros of ``shape``, written in chunks and
    deflated: gigabytes in memory, kilobytes to megabytes on disk."""
    import io
    import zipfile

    import numpy as np

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    left = int(np.prod(shape)) * np.dtype(dtype).itemsize
    zero = bytes(2**24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open(f"{name}.npy", "w", force_zip64=True) as f:
        f.write(head.getvalue())
        while left:
            f.write(zero[:min(left, len(zero))])
            left -= min(left, len(zero))
    return path
