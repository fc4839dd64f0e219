"""Stop latency: ``python -m benchmarks.stop [--repeats N] [--arch mlp,dcgan] [--quick]``.

How long a training job takes to end after its Stop button is pressed, measured the way the Train
page does it: the job runs :func:`ganmc.app.service.train` in a :class:`ganmc.app.jobs.JobRegistry`
thread, and "Stop" is :meth:`ganmc.app.jobs.Job.stop_and_wait`. For each run: the seconds from the
press to the job's end (steps stopped, the one-pass scores calibrated, the model saved) and the
steps taken after the press. The browser adds one page rerun on top (the e2e test prints its own
figure). Writes the ``stop`` section of docs/benchmarks.md unless ``--quick``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import machine, table, write_section


def one_stop(folder: Path, arch: str, digit: int, after_steps: int) -> dict:
    from ganmc.app import service
    from ganmc.app.jobs import JobRegistry

    reached = threading.Event()
    last = {"step": 0}  # the last GAN step reported before the press

    def progress(p) -> None:
        if p.phase == "gan":
            last["step"] = p.step
            if p.step >= after_steps:
                reached.set()

    def work(job):
        return service.train(folder, data="bundled", digits=(digit,), arch=arch, steps=20_000,
                             encoder_steps=0, stop_event=job.stop_event,
                             progress=lambda p: (job.report(p), progress(p)))

    job = JobRegistry().start("train", work)
    while not reached.wait(1.0):
        if not job.running:  # failed before the press
            raise SystemExit(f"{arch}: the job ended {job.status} before step {after_steps}: "
                             f"{job.error}")
    at_press = last["step"]
    t = time.perf_counter()
    ended = job.stop_and_wait(600)
    seconds = time.perf_counter() - t
    snap = job.snapshot()
    if not ended or snap["status"] != "stopped":
        raise SystemExit(f"{arch}: the job ended {snap['status']}: {snap['error']}")
    done = snap["result"].metadata_["gan_steps_done"]  # what the saved model says it did
    return {"arch": arch, "seconds": seconds, "at_press": at_press, "at_end": done}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="stops per architecture")
    p.add_argument("--arch", default="mlp,dcgan", help="architectures, comma-separated")
    p.add_argument("--digit", type=int, default=8, help="the one normal digit")
    p.add_argument("--after", type=int, default=300, help="GAN steps before the press")
    p.add_argument("--quick", action="store_true", help="one stop of mlp; writes no docs")
    args = p.parse_args()
    archs = ["mlp"] if args.quick else args.arch.split(",")
    repeats = 1 if args.quick else args.repeats
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            for i in range(repeats):
                r = one_stop(Path(tmp) / f"{arch}-{i}", arch, args.digit, args.after)
                print(f"{arch}: stopped {r['seconds']:.2f} s after the press, "
                      f"{r['at_end'] - r['at_press']} steps after it")
                runs.append(r)
    rows = []
    for arch in archs:
        mine = [r for r in runs if r["arch"] == arch]
        secs = [r["seconds"] for r in mine]
        rows.append([arch, len(mine), statistics.median(secs), max(secs),
                     max(r["at_end"] - r["at_press"] for r in mine)])
    text = (f"Machine: {machine()}.\n\n"
            f"A one-digit model (digit {args.digit}, bundled data, no encoder) stopped after "
            f"{args.after} GAN steps through `Job.stop_and_wait`, as the Train page's Stop "
            f"button does. Seconds from the press to the job's end: the steps stop, the one-pass "
            f"scores are calibrated and the model is saved. The page shows the stopped job on "
            f"the rerun that follows (the callback waits up to `ganmc.app.jobs.STOP_WAIT_S`).\n\n"
            + table(["architecture", "stops", "median s", "slowest s",
                     "most steps after the press"], rows))
    print(text)
    if not args.quick:
        write_section("stop", "## Stop latency (`python -m benchmarks.stop`)\n\n" + text)


if __name__ == "__main__":
    main()
