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

from benchmarks.common import DOC, machine, product_lines, table, write_section


def run_digit(k: int, preset: str, out: Path) -> dict:
    from ganmc import load_model
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.metrics import auroc

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
    from ganmc.core.config import parse_digits
    from ganmc.core.presets import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="standard", choices=list(PRESETS))
    p.add_argument("--digits", default="all", help="e.g. all, 0-4, or 8,2,3 (run in that order)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--fresh", action="store_true",
                   help="forget the digits an earlier run wrote (by default a run of some "
                        "digits replaces theirs and keeps the others')")
    args = p.parse_args()
    rows = []
    t0 = time.perf_counter()
    earlier = [] if args.fresh else load(args.preset).get("rows", [])
    with tempfile.TemporaryDirectory() as tmp:
        chosen = parse_digits(args.digits)
        given = [int(d) for d in args.digits.split(",") if d.strip().isdigit()]
        for k in (given if sorted(given) == list(chosen) else chosen):  # as ordered, if listed
            r = run_digit(k, args.preset, Path(tmp) / f"m{k}")
            rows.append(r)
            print(json.dumps(r), flush=True)
            if not args.no_write:  # after every digit: a stopped run keeps what it measured
                write(args.preset, merge(earlier, rows), time.perf_counter() - t0)
    everything = merge(earlier, rows)
    print(render(args.preset, everything, machine(), time.perf_counter() - t0))
    print(product_lines(product_figures(args.preset, everything)))


def path_of(preset: str) -> Path:
    return DOC.with_name(f"benchmarks-presets-{preset}.json")


def load(preset: str) -> dict:
    """What the last runs of a preset wrote (an empty dict if none)."""
    path = path_of(preset)
    return json.loads(path.read_text()) if path.exists() else {}


def merge(earlier: list[dict], rows: list[dict]) -> list[dict]:
    """The earlier rows with this run's digits replaced (in their place), then new digits."""
    new = {r["digit"]: r for r in rows}
    old = {r["digit"] for r in earlier}
    return ([new.get(r["digit"], r) for r in earlier]
            + [r for r in rows if r["digit"] not in old])


def product_figures(preset: str, rows: list[dict]) -> dict[str, float]:
    """The figure kept with the preset: its minutes a model on the day it ran (the mean wall
    time over its digits). The training estimates' own figures are measured together
    with the machine's speed by ``python -m benchmarks.estimates``."""
    walls = [r["wall_s"] for r in rows]
    return {f"ganmc.core.presets:PRESETS[{preset!r}].minutes_2core":
            round(sum(walls) / len(walls) / 60, 1)}


def write(preset: str, rows: list[dict], seconds: float) -> None:
    scored = [r["auroc"] for r in rows if r.get("auroc") is not None]
    mean = round(sum(scored) / len(scored), 4) if scored else None
    text = render(preset, rows, machine(), seconds)
    write_section(f"presets-{preset}", text)
    path_of(preset).write_text(json.dumps(
        {"machine": machine(), "rows": rows, "mean_auroc": mean,
         "product": product_figures(preset, rows)}, indent=1))


def render(preset: str, rows: list[dict], machine_line: str, seconds: float | None) -> str:
    from ganmc.core.presets import PRESETS

    p = PRESETS[preset]
    scored = [r for r in rows if r.get("auroc") is not None]
    worst = max(rows, key=lambda r: r["wall_s"])
    took = "" if seconds is None else f"; the last run took {seconds / 60:.1f} min"
    head = (f"### Preset `{preset}` ({p.steps:,} GAN + {p.encoder_steps:,} encoder steps of "
            f"{p.batch_size})\n\n`python -m benchmarks.presets --preset {preset}` — "
            f"{machine_line}{took}. `ganmc train --data bundled --digits k --preset {preset}` "
            f"with every other default, timed from start to exit; AUROC of the model's default "
            f"score on the 2,000 test digits of the bundled split (the other nine digits "
            f"anomalous); the quality card's own figure for the other digits (its 1,000 test "
            f"images of them against its held-out normals) beside it; the load average at the "
            f"start (on 2 cores about 2 is the runs themselves).\n\n")
    body = table(["digit", "score", "AUROC", "card: other digits", "card reading",
                  "wall time (s)", "load avg"],
                 [[r["digit"], r.get("scorer") or "", "" if r.get("auroc") is None
                   else r["auroc"], r.get("card_other_digits") or "", r.get("card_reading") or "",
                   r["wall_s"], "" if r.get("load_before") is None else r["load_before"]]
                  for r in rows])
    notes = "".join(f"\n- digit {r['digit']}: {r['note']}" for r in rows if r.get("note"))
    tail = ""
    if scored:
        low = min(scored, key=lambda r: r["auroc"])
        tail = (f"Mean AUROC **{sum(r['auroc'] for r in scored) / len(scored):.4f}**, lowest "
                f"{low['auroc']:.4f} (digit {low['digit']}); ")
    tail += (f"mean wall time {sum(r['wall_s'] for r in rows) / len(rows) / 60:.1f} min, "
             f"longest {worst['wall_s']:.0f} s (digit {worst['digit']}).")
    return head + body + ("\n" + notes if notes else "") + "\n\n" + tail


if __name__ == "__main__":
    main()
