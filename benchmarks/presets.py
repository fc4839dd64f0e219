"""Training presets: ``python -m benchmarks.presets [--preset standard] [--digits 0-9]``.

For each digit k, runs ``ganmc train --data bundled --digits k --preset P`` exactly as a user
would (a fresh process, every other setting at its default) and times it from start to exit
(data, training, calibration, simulation and the quality card included); then scores the
benchmark's 2,000 test digits of the bundled split (never trained on; the other nine digits
are the anomalies) with the saved model's default score: the one-class AUROC. Also reports
what the model's own quality card said (its "other digits" AUROC), to check that the card
tells the truth without labelled anomalies from the user.

Writes the table into docs/benchmarks.md (section ``presets-P``) and JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import DOC, machine, table, write_section


def run_digit(k: int, preset: str, out: Path) -> dict:
    from ganmc import load_model
    from ganmc.data import load_mnist
    from ganmc.metrics import auroc

    cmd = [sys.executable, "-m", "ganmc.cli", "train", "--data", "bundled", "--digits", str(k),
           "--preset", preset, "--out", str(out)]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"digit {k}: ganmc train failed:\n{proc.stderr[-2000:]}")
    det = load_model(out)
    splits = load_mnist("bundled", (k,))
    s = det.score_samples(splits.x_test)
    normal = splits.test_is_normal
    q = det.quality_ or {}
    return {"digit": k, "wall_s": round(wall, 1), "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2), "scorer": det.scorer_,
            "auroc": round(float(auroc(s[normal], s[~normal])), 4),
            "card_other_digits": (q.get("sets", {}).get("other digits") or {}).get("auroc"),
            "card_reading": q.get("reading"),
            "train_s": det.metadata_.get("train_seconds")}


def main() -> None:
    from ganmc.config import PRESETS, parse_digits

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="standard", choices=list(PRESETS))
    p.add_argument("--digits", default="all", help="e.g. all, 0-4, or 8,2,3 (run in that order)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        chosen = parse_digits(args.digits)
        given = [int(d) for d in args.digits.split(",") if d.strip().isdigit()]
        for k in (given if sorted(given) == list(chosen) else chosen):  # as ordered, if listed
            r = run_digit(k, args.preset, Path(tmp) / f"m{k}")
            rows.append(r)
            print(json.dumps(r), flush=True)
            if not args.no_write:  # after every digit: a stopped run keeps what it measured
                write(args.preset, rows, time.perf_counter() - t0, len(chosen))
    print(render(args.preset, rows, time.perf_counter() - t0, len(chosen)))


def write(preset: str, rows: list[dict], seconds: float, planned: int) -> None:
    mean = sum(r["auroc"] for r in rows) / len(rows)
    write_section(f"presets-{preset}", render(preset, rows, seconds, planned))
    (DOC.with_name(f"benchmarks-presets-{preset}.json")).write_text(
        json.dumps({"machine": machine(), "rows": rows, "mean_auroc": mean}, indent=1))


def render(preset: str, rows: list[dict], seconds: float, planned: int) -> str:
    from ganmc.config import PRESETS

    p = PRESETS[preset]
    mean = sum(r["auroc"] for r in rows) / len(rows)
    worst = max(rows, key=lambda r: r["wall_s"])
    head = (f"### Preset `{preset}` ({p.steps:,} GAN + {p.encoder_steps:,} encoder steps of "
            f"{p.batch_size})\n\n`python -m benchmarks.presets --preset {preset}` — "
            f"{machine()}; {seconds / 60:.1f} min in all. `ganmc train --data bundled --digits "
            f"k --preset {preset}` with every other default, timed from start to exit; "
            f"AUROC of the model's default score on the 2,000 test digits of the bundled split "
            f"(the other nine digits anomalous); the quality card's own figure for the other "
            f"digits (its 1,000 test images of them against its held-out normals) beside it. "
            f"The load average at each start is given: on 2 cores about 2 is the runs "
            f"themselves, more is other work on the machine.\n\n")
    body = table(["digit", "score", "AUROC", "card: other digits", "card reading",
                  "wall time (s)", "load avg"],
                 [[r["digit"], r["scorer"], r["auroc"], r["card_other_digits"],
                   r["card_reading"], r["wall_s"], r["load_before"]] for r in rows])
    done = "" if len(rows) == planned else f" ({len(rows)} of the {planned} digits run so far)"
    tail = (f"\n\nMean AUROC{done} **{mean:.4f}**, lowest {min(r['auroc'] for r in rows):.4f} "
            f"(digit {min(rows, key=lambda r: r['auroc'])['digit']}); longest run "
            f"{worst['wall_s']:.0f} s (digit {worst['digit']}).")
    return head + body + tail


if __name__ == "__main__":
    main()
