"""Time estimates against real runs: ``python -m benchmarks.estimates [--quick] [--busy]``.

What a user is told before and while a job runs, against what the clock then says:

- **Training, before it starts**: :func:`ganmc.app.service.time_estimate` (the Train page's
  "Estimated time" and the ``Estimated time:`` line of ``ganmc train``) for a ``quick`` run
  of one digit, one of all ten digits (with the shape network), and a ``thorough`` run of
  one digit at a fifth of its steps (its deeper D and its encoder), on a fresh machine (no
  model to learn from), against the wall time of the whole job
  (``ganmc.app.service.train``: data, training, calibration, simulation, quality card). The
  estimate scales figures measured in one earlier run of this benchmark by
  :func:`ganmc.app.estimate.machine_speed` now; this run measures them again (the
  ``product`` figures).
- **Training, while it runs**: the progress line's ETA when a quarter of the steps are done,
  against the training time that was then left (the thorough case: both phases).
- **Monte Carlo, before it starts**: the Monte Carlo page's figure (N over
  :func:`ganmc.app.service.measure_simulation_speed`, a timed batch on this machine now) for
  the shipped model's default score at the default precision, against the run.

The target (issue 35) is within 25 % either way. The figures go into docs/benchmarks.md
(section ``estimates``) and docs/benchmarks-estimates.json; the machine's load is recorded
beside each. ``--quick`` runs only the one-digit training and 50,000 samples; ``--busy``
keeps one core busy with another process throughout, as a slower day would, to check that
the estimates follow the machine's speed.
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

from benchmarks.common import DOC, in_use, machine, product_lines, table, write_section

OUT = DOC.with_name("benchmarks-estimates.json")
#: The limit the estimates are held to: the real time within 25 % of the estimate.
WITHIN = 0.25


def _error(estimate: float, real: float) -> float:
    """How far off an estimate was, as a share of the real time (+ = too long)."""
    return (estimate - real) / real


def training_case(name: str, digits: tuple[int, ...], folder: Path, preset: str = "quick",
                  **settings) -> dict:
    from ganmc.app import service
    from ganmc.app.estimate import machine_speed

    settings = {"preset": preset, "digits": digits, **settings}
    gauge = machine_speed()
    estimate, basis = service.time_estimate(settings, None, speed=gauge)
    reports = []
    load = os.getloadavg()[0]
    start = time.perf_counter()
    det = service.train(folder / name, data="bundled", **settings,
                        progress=lambda p: reports.append((time.perf_counter(), p)))
    wall = time.perf_counter() - start
    end_of_training = max(t for t, p in reports)
    quarter = next((t, p) for t, p in reports if p.fraction >= 0.25)
    left = end_of_training - quarter[0]
    pace = {p.phase: p.images_per_s for _, p in reports}  # each phase's last, settled pace
    return {"case": f"train: {preset}, {name}", "estimate_s": round(estimate, 1),
            "real_s": round(wall, 1), "error": round(_error(estimate, wall), 3),
            "eta_at_quarter_s": round(quarter[1].eta_s, 1), "left_at_quarter_s": round(left, 1),
            "eta_error": round(_error(quarter[1].eta_s, left), 3), "basis": basis,
            "preset": preset, "digits": len(digits), "train_s": det.metadata_["train_seconds"],
            "gan_steps": det.metadata_["gan_steps_done"],
            "gan_images_per_s": round(pace["gan"], 1),
            "encoder_images_per_s": round(pace["encoder"], 1) if "encoder" in pace else None,
            "gauge": round(gauge, 2), "load": round(load, 2)}


def product_figures(rows: list[dict]) -> dict[str, float]:
    """The figures the training estimate scales by the machine's speed
    (:mod:`ganmc.app.estimate`), all at the one-digit quick case's speed: its GAN step by the
    settled rounds' pace, its training time besides those steps, its time besides training;
    what each further digit adds besides training (the ten-digit case's, brought to that
    speed, less the one-digit case's, over the nine digits between them); and an encoder
    step's share of a GAN step's time (the thorough case's two paces)."""
    from ganmc.app.estimate import REFERENCE_BATCH

    one, ten = (next(r for r in rows if r.get("preset") == "quick" and r.get("digits") == k)
                for k in (1, 10))
    thorough = next(r for r in rows if r.get("preset") == "thorough")
    step = round(REFERENCE_BATCH / one["gan_images_per_s"], 4)  # the quick preset's batch
    after = round(one["real_s"] - one["train_s"], 1)
    ten_after = (ten["real_s"] - ten["train_s"]) * ten["gauge"] / one["gauge"]
    return {"ganmc.app.estimate:GAUGE_REFERENCE": round(one["gauge"], 1),
            "ganmc.app.estimate:GAN_STEP_S": step,
            "ganmc.app.estimate:TRAIN_START_S": round(one["train_s"] - one["gan_steps"] * step,
                                                      1),
            "ganmc.app.estimate:ESTIMATE_AFTER_TRAINING_S": after,
            "ganmc.app.estimate:ESTIMATE_AFTER_TRAINING_S_PER_DIGIT":
                round((ten_after - after) / 9, 1),
            "ganmc.core.presets:ENCODER_STEP_COST":
                round(thorough["gan_images_per_s"] / thorough["encoder_images_per_s"], 2)}


def monte_carlo_case(n: int) -> dict:
    from ganmc import load_model
    from ganmc.app import service
    from ganmc.storage import bundle

    det = load_model(bundle.DEFAULT_MODEL)
    load = os.getloadavg()[0]
    speed = service.measure_simulation_speed(det, precision="auto")
    estimate = n / speed
    start = time.perf_counter()
    service.simulate(det, n, precision="auto")
    wall = time.perf_counter() - start
    return {"case": f"Monte Carlo: {n:,} samples, shipped model, default score",
            "estimate_s": round(estimate, 1), "real_s": round(wall, 1),
            "error": round(_error(estimate, wall), 3), "load": round(load, 2)}


#: The thorough case: one digit at a fifth of the preset's steps (its network, its encoder).
THOROUGH_SHARE = 5


def cases(quick: bool, folder: Path) -> list[dict]:
    """The training cases, then the Monte Carlo one, each printed as it ends."""
    from ganmc.core.presets import PRESETS

    p = PRESETS["thorough"]
    todo = [("one digit (3)", (3,), "quick", {})]
    if not quick:
        todo += [("ten digits", tuple(range(10)), "quick", {}),
                 ("one digit (3), a fifth of its steps", (3,), "thorough",
                  {"steps": p.steps // THOROUGH_SHARE,
                   "encoder_steps": p.encoder_steps // THOROUGH_SHARE})]
    rows = []
    for name, digits, preset, settings in todo:
        rows.append(training_case(name, digits, folder, preset, **settings))
        print(rows[-1], flush=True)
    rows.append(monte_carlo_case(50_000 if quick else 500_000))
    print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one training case and 50,000 samples")
    p.add_argument("--busy", action="store_true",
                   help="keep one core busy with another process throughout (a slower "
                        "machine); writes its own section and JSON, no product figures")
    args = p.parse_args()
    os.environ.setdefault("GANMC_OFFLINE", "1")
    busy = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy
            else None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = cases(args.quick, Path(tmp))
    finally:
        if busy is not None:
            busy.kill()
    figures = {} if args.quick or args.busy else product_figures(rows)
    out = OUT.with_name("benchmarks-estimates-busy.json") if args.busy else OUT
    out.write_text(json.dumps({"machine": machine(), "rows": rows, "product": figures},
                              indent=1) + "\n")
    if figures:
        print(product_lines(figures))
    measured = "" if not figures else "\n\nThe figures the training estimates scale, as " \
        "this run measured them and as in use when it ran:\n\n" + table(
            ["figure", "this run", "in use"],
            [[key.split(":")[1], f"{value:g}", f"{in_use(key):g}"]
             for key, value in figures.items()])
    lines = [[r["case"], r["estimate_s"], r["real_s"], f"{100 * r['error']:+.0f} %",
              (f"{r['eta_at_quarter_s']:.0f} s for {r['left_at_quarter_s']:.0f} s "
               f"({100 * r['eta_error']:+.0f} %)") if "eta_error" in r else "",
              "" if r.get("gauge") is None else f"{r['gauge']:.1f}", f"{r['load']:.1f}"]
             for r in rows]
    flags = "".join(f" --{f}" for f in ("quick", "busy") if getattr(args, f))
    busy_words = (" Another process kept one of the two cores busy throughout: a slower "
                  "machine, as a busy or slower day makes it.") if args.busy else ""
    write_section("estimates-busy" if args.busy else "estimates", f"""\
## Time estimates against real runs{' (one core busy)' if args.busy else ''}

`python -m benchmarks.estimates{flags}` on {machine()}.{busy_words} The
estimate is what the user is told before the job starts; the error is (estimate - real) /
real, within {100 * WITHIN:.0f} % either way being the target. The ETA column is the
progress line's ETA once a quarter of the training steps are done, against the training
time then left. Speed: this machine's speed when the case started (`machine_speed`, steps a
second), which the training estimate scales its figures by. Load: the 1-minute load average
when the case started.

{table(["case", "estimate (s)", "real (s)", "error", "ETA at a quarter", "speed", "load"],
       lines)}{measured}
""")


if __name__ == "__main__":
    main()
