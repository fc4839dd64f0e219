"""Verdict latency: ``python -m benchmarks.verdict_latency [--model DIR] [--baseline DIR]``.

How long one image's verdict takes (``Detector.verdicts`` on a single image, the path of
the Python API, ``ganmc score`` and the Detect page), median and 95th percentile over 200
single test digits, with and without the drift check that now follows every verdict call:

- in one process, the two paths alternate image by image (``check_drift=False`` is the
  verdict path as it was; the default adds the drift alarm over the call's images), three
  rounds, so the machine's load weighs on both alike;
- with ``--baseline DIR`` (a checkout of other code, e.g. ``git archive COMMIT | tar -x -C
  DIR``; ``--baseline-words`` says what it is, as the table will), fresh processes of that
  code and of this one take turns (three each), each timing the same 200 verdicts with its
  own ``Detector.verdicts``.

Also the Detect page's work after the scores for a session of 24 images (the drift alarm and
the batch's false discovery rate, :func:`ganmc.app.service.guarantees`).

Prints the figures and, unless ``--no-write``, writes the verdict-latency section of
docs/benchmarks.md (and ``docs/benchmarks-verdict-latency.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DOC, ROOT, machine, write_section

IMAGES = 200
ROUNDS = 3

#: What a child process runs: the verdicts of 200 single test digits with the code on its
#: path, timed; prints one JSON line (milliseconds).
CHILD = """
import json, sys, time
import numpy as np
from ganmc.thresholds.decision import Choice, decide
from ganmc.app import service
from ganmc.images.data import load_mnist
det = service.load_model(sys.argv[1] or None)
x = load_mnist("bundled").x_test[:{n}]
for img in x[:20]:
    det.verdicts(img[None])
ms = []
for img in x:
    t = time.perf_counter()
    det.verdicts(img[None])
    ms.append(1000 * (time.perf_counter() - t))
print(json.dumps(ms))
"""


def percentiles(ms) -> dict[str, float]:
    ms = np.asarray(ms, np.float64)
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "n": int(len(ms))}


def in_process(model: str | None) -> dict:
    """The two paths alternating image by image in this process."""
    import warnings

    from ganmc.app import service
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.decision import Choice, decide
    from ganmc.thresholds.guarantees import DriftAlarm  # noqa: F401  (imported before timing)

    det = service.load_model(model)
    x = load_mnist("bundled").x_test[:IMAGES]
    for img in x[:20]:  # warm both paths
        det.verdicts(img[None], check_drift=False)
        det.verdicts(img[None])
    plain, checked = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(ROUNDS):
            for i, img in enumerate(x):
                pair = [(plain, False), (checked, True)]
                for out, drift in (pair if (i + r) % 2 else pair[::-1]):
                    t = time.perf_counter()
                    det.verdicts(img[None], check_drift=drift)
                    out.append(1000 * (time.perf_counter() - t))
    session = x[:24]
    decision = decide(det, Choice())
    judged = service.score(det, session, decision)
    page = []
    for _ in range(50):
        t = time.perf_counter()
        service.guarantees(det, decision, judged, fdr=decision.level.alpha)
        page.append(1000 * (time.perf_counter() - t))
    return {"without_drift_check": percentiles(plain), "with_drift_check": percentiles(checked),
            "session_of_24_guarantees": percentiles(page), "scorer": decision.scorer,
            "model": _shown(det.path_)}


def _shown(path) -> str:
    """A model folder as the docs name it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def child(code_root: Path, model: str | None) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(code_root), "GANMC_OFFLINE": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    # both codes load the same model folder: this checkout's unless --model
    model = model or str(ROOT / "assets" / "model")
    out = subprocess.run([sys.executable, "-c", CHILD.format(n=IMAGES), model],
                         cwd=code_root, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    p.add_argument("--baseline", metavar="DIR",
                   help="a checkout of other code, timed in fresh processes in turn with "
                        "this one")
    p.add_argument("--baseline-words", default="the code before the one-pass verdict",
                   help="what the baseline code is, in the table's words")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    model = str(Path(args.model).resolve()) if args.model else None
    start = time.perf_counter()
    r = {"machine": machine(), "images": IMAGES, "rounds": ROUNDS,
         "load": round(os.getloadavg()[0], 2),
         "in_process": in_process(model)}
    ip = r["in_process"]
    print(json.dumps(ip, indent=1))
    if args.baseline:
        base, new = [], []
        for _ in range(ROUNDS):
            base += child(Path(args.baseline).resolve(), model)
            new += child(ROOT, model)
        r["processes"] = {"baseline": percentiles(base), "this": percentiles(new),
                          "baseline_words": args.baseline_words}
        print(json.dumps(r["processes"], indent=1))
    r["seconds"] = time.perf_counter() - start
    if args.no_write:
        return
    write_section("verdict-latency", report(r))
    DOC.with_name("benchmarks-verdict-latency.json").write_text(json.dumps(r, indent=2))
    print(f"wrote {DOC} (verdict-latency) and benchmarks-verdict-latency.json")


def report(r: dict) -> str:
    ip = r["in_process"]
    a, b = ip["without_drift_check"], ip["with_drift_check"]
    lines = ["## Verdict latency with the drift check (`python -m benchmarks.verdict_latency`)",
             "",
             f"{r['machine']}; model `{ip['model']}`, score `{ip['scorer']}`. One test digit "
             f"at a time through `Detector.verdicts`, {r['images']} digits x {r['rounds']} "
             f"rounds, the two paths alternating image by image in one process:",
             "",
             "| path | median | p95 |", "|---|---|---|",
             f"| verdict only (`check_drift=False`, the path as it was) | "
             f"{a['median_ms']:.2f} ms | {a['p95_ms']:.2f} ms |",
             f"| verdict and drift check (the default) | {b['median_ms']:.2f} ms | "
             f"{b['p95_ms']:.2f} ms |", "",
             f"p95 with the drift check: **{100 * (b['p95_ms'] / a['p95_ms'] - 1):+.1f} %**. "
             f"The Detect page's drift alarm and batch FDR for a session of 24 images, after "
             f"the scores: median {ip['session_of_24_guarantees']['median_ms']:.2f} ms."]
    if "processes" in r:
        pb, pt = r["processes"]["baseline"], r["processes"]["this"]
        lines += ["", f"Fresh processes in turn ({r['rounds']} each, {r['images']} verdicts "
                  f"each): {r['processes']['baseline_words']} median {pb['median_ms']:.2f} ms, "
                  f"p95 {pb['p95_ms']:.2f} ms; this code median {pt['median_ms']:.2f} ms, p95 "
                  f"{pt['p95_ms']:.2f} ms (**{100 * (pt['p95_ms'] / pb['p95_ms'] - 1):+.1f} "
                  f"%**)."]
    return "\n".join(lines + ["", f"Took {r['seconds'] / 60:.1f} min; the machine's load (1-minute "
                                   f"average) at the start: {r.get('load', '?')}."])


if __name__ == "__main__":
    main()
