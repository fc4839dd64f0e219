"""What the shape network costs: ``python -m benchmarks.shape_cost [--baseline-model DIR]
[--steps N] [--no-write]``.

Two figures the shape network's issue bounds:

- **Training time of the standard preset** (all ten bundled digits, 5,000 GAN steps of 64,
  seed 0, as ``ganmc train`` runs it) with the shape network (the default for several digits)
  and without it (``shape_weight=0``), one run each, the GAN and shape steps only
  (:func:`ganmc.nets.train.fit_networks`: no calibration, no Monte Carlo, no quality card, which
  take the same time either way).
- **One verdict** (``Detector.verdicts`` on a single test digit, the default score and
  threshold) of the shipped model against a model without a shape network
  (``--baseline-model``, e.g. the previous shipped model: ``git archive 7a2688b assets/model
  | tar -x -C DIR``), 200 test digits, the two models alternating image by image in one
  process, three rounds, so that the machine's load weighs on both alike.

Prints the figures and, unless ``--no-write``, writes the ``shape-cost`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import machine, table, write_section

IMAGES = 200
ROUNDS = 3


def train_seconds(steps: int, shape_weight: float) -> tuple[float, float]:
    """Seconds and images/s of the standard preset's training on all ten bundled digits."""
    from ganmc.core.config import TrainConfig
    from ganmc.images.data import load_mnist
    from ganmc.nets.train import fit_networks

    splits = load_mnist("bundled", tuple(range(10)))
    config = TrainConfig(preset="standard", steps=steps, seed=0, shape_weight=shape_weight)
    t = time.perf_counter()
    result = fit_networks(splits.x_train, config, classes=splits.y_train.astype(np.int64))
    return time.perf_counter() - t, result.images_per_s


def verdict_ms(models: dict[str, object], x: np.ndarray) -> dict[str, np.ndarray]:
    """Milliseconds of one verdict per image for each model, alternating image by image."""
    times = {name: [] for name in models}
    for det in models.values():  # the first call traces; leave it out
        det.verdicts(x[:1])
    for _ in range(ROUNDS):
        for img in x:
            for name, det in models.items():
                t = time.perf_counter()
                det.verdicts(img[None])
                times[name].append(1000 * (time.perf_counter() - t))
    return {name: np.array(v) for name, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline-model", metavar="DIR",
                   help="a model folder without a shape network (the previous shipped model)")
    p.add_argument("--steps", type=int, default=None,
                   help="GAN steps of each training run (default: the standard preset's)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()

    from ganmc import load_model
    from ganmc.core.presets import PRESETS, shape_every
    from ganmc.images.data import load_mnist

    started = time.perf_counter()
    steps = args.steps or PRESETS["standard"].steps
    with_shape = train_seconds(steps, 1.0)
    print(f"with the shape network: {with_shape[0]:.1f} s", flush=True)
    without = train_seconds(steps, 0.0)
    print(f"without: {without[0]:.1f} s", flush=True)
    ratio = with_shape[0] / without[0]
    rows = [["without the shape network (`--shape-weight 0`)", f"{without[0]:,.0f}",
             f"{without[1]:,.0f}", "1.00×"],
            [f"with it (the default; it learns on one GAN step in {shape_every(steps)})",
             f"{with_shape[0]:,.0f}", f"{with_shape[1]:,.0f}", f"{ratio:.2f}×"]]
    text = [f"Standard preset, all ten bundled digits, {steps:,} GAN steps of 64, seed 0, "
            f"the training steps only (`ganmc.nets.train.fit_networks`):", "",
            table(["run", "seconds", "images/s", "time"], rows), ""]
    if args.baseline_model:
        shipped, base = load_model(), load_model(args.baseline_model)
        x = load_mnist("bundled", tuple(range(10))).x_test[:IMAGES]
        ms = verdict_ms({"shipped": shipped, "baseline": base}, x)
        vrows = [[name, f"{np.median(v):.2f}", f"{np.percentile(v, 95):.2f}"]
                 for name, v in (("without a shape network (baseline)", ms["baseline"]),
                                 ("the shipped model, with one", ms["shipped"]))]
        slower = np.median(ms["shipped"]) / np.median(ms["baseline"])
        text += [f"One verdict (`Detector.verdicts`, one test digit, default score "
                 f"`{shipped.scorer_}` and threshold), {IMAGES} digits x {ROUNDS} rounds, the "
                 f"two models alternating image by image:", "",
                 table(["model", "median ms", "p95 ms"], vrows), "",
                 f"The verdict takes **{slower:.2f}×** the baseline's time (median)."]
    body = "\n".join(text)
    print(body)
    if not args.no_write:
        write_section("shape-cost", "\n".join([
            "## What the shape network costs (`python -m benchmarks.shape_cost`)", "",
            f"{machine()}; {(time.perf_counter() - started) / 60:.1f} min.", "", body]))


if __name__ == "__main__":
    main()
