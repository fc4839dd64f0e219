"""One verdict without TensorFlow: ``python -m benchmarks.export_speed [--rounds N]``.

Exports the shipped model's verdict score (``combined``, per-digit thresholds) with
``ganmc export`` as ONNX and as TFLite, then times one verdict at batch 1 (an image already in
the 28x28 frame: graph, ranks, threshold and p-value), the median and 95th percentile over
``--rounds`` single test digits after 20 to warm up:

- in the package: ``service.score`` (what ``ganmc score`` and the Detect page call);
- in the export's own ``predict.py`` (``Export.judge``), each format in a fresh process
  that never imports TensorFlow: onnxruntime, ai-edge-litert.

Also the seconds each export took and the folder's size. Writes the export section of
docs/benchmarks.md and docs/benchmarks-export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DOC, ROOT, machine, table, write_section

FORMATS = ("onnx", "tflite")
RUNTIMES = {"onnx": "onnxruntime", "tflite": "ai-edge-litert"}
WARM = 20

#: Times Export.judge at batch 1 in a process with no TensorFlow; prints the times (ms).
CHILD = """
import json, sys, time
import numpy as np
folder, images, rounds, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, folder)
import predict
export = predict.Export(folder)
x = np.load(images)["x"]
for i in range(warm):
    export.judge(x[i % len(x)][None])
times = []
for i in range(rounds):
    t = time.perf_counter()
    export.judge(x[i % len(x)][None])
    times.append((time.perf_counter() - t) * 1000)
assert "tensorflow" not in sys.modules and "ganmc" not in sys.modules
print(json.dumps({"times_ms": times, "notes": export.notes}))
"""


def stats(times_ms: list[float]) -> dict[str, float]:
    return {"median_ms": float(np.median(times_ms)), "p95_ms": float(np.percentile(times_ms, 95))}


def package_times(det, decision, x: np.ndarray, rounds: int) -> list[float]:
    from ganmc.app import service

    for i in range(WARM):
        service.score(det, x[i % len(x)][None], decision)
    times = []
    for i in range(rounds):
        t = time.perf_counter()
        service.score(det, x[i % len(x)][None], decision)
        times.append((time.perf_counter() - t) * 1000)
    return times


def runtime_times(folder: Path, images: Path, rounds: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(images), str(rounds),
                        str(WARM)], capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"the runtime of {folder.name} failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=200, help="single images timed (default 200)")
    p.add_argument("--no-docs", action="store_true", help="print only; write no docs")
    args = p.parse_args()

    from ganmc.app import service
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.decision import Choice, decide

    quiet_tensorflow()
    x = load_mnist("bundled").x_test[:args.rounds]
    rows, figures = [], {"machine": machine(), "rounds": args.rounds, "formats": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = shutil.copytree(ROOT / "assets" / "model", tmp / "model")
        det = service.load_model(model)
        decision = decide(det, Choice(det.scorer, det.calibration))
        np.savez(tmp / "images.npz", x=x)
        package = stats(package_times(det, decision, x, args.rounds))
        figures["package"] = package
        rows.append(["package (`service.score`, TensorFlow)", "", "", package["median_ms"],
                     package["p95_ms"]])
        for fmt in FORMATS:
            start = time.perf_counter()
            done = service.export_model(det, decision, fmt, tmp / fmt)
            seconds = time.perf_counter() - start
            size = sum(f.stat().st_size for f in done.folder.rglob("*") if f.is_file()) / 1e6
            child = runtime_times(done.folder, tmp / "images.npz", args.rounds)
            s = stats(child["times_ms"])
            figures["formats"][fmt] = {**s, "export_s": seconds, "folder_mb": size,
                                       "notes": child["notes"],
                                       "check": done.manifest["check"]}
            rows.append([f"export `{fmt}` in `predict.py` ({RUNTIMES[fmt]}, no TensorFlow)",
                         f"{seconds:.1f}", f"{size:.1f}", s["median_ms"], s["p95_ms"]])
    text = table(["verdict at batch 1", "export (s)", "folder (MB)", "median (ms)", "p95 (ms)"],
                 rows)
    print(text)
    if args.no_docs:
        return
    (DOC.parent / "benchmarks-export.json").write_text(json.dumps(figures, indent=2) + "\n")
    heading = "## One verdict without TensorFlow (`python -m benchmarks.export_speed`)"
    write_section("export", f"""{heading}

The shipped model's verdict score (`combined`, per-digit thresholds at 5 %) exported with
`ganmc export`, and one verdict at batch 1 (an image already in the 28x28 frame: the graph,
the ranks of the combined score, the threshold and the p-value), the median and 95th
percentile over {args.rounds} single test digits after {WARM} to warm up. The exports are run
by their own `predict.py`, each in a fresh process that never imports TensorFlow. Measured
on: {figures['machine']}.

{text}""")


if __name__ == "__main__":
    main()
