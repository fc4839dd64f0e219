"""The rotation task's cost: ``python -m benchmarks.rotation_speed [--steps N] [--arch dcgan]``.

Trains the same one-digit GAN (digit 8 of the bundled split, seed 0, no encoder) twice, without
and with the SS-GAN rotation task (``rotation_weight=1``), and compares the training speed of
the compiled steps (images/s, the first, tracing call left out) and the whole training time.
The ratio is ``ganmc.config.ROTATION_SLOWDOWN``, which the time estimate and the help texts
use. Writes the ``rotation-speed`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse

from benchmarks.common import machine, table, write_section


def train_once(arch: str, steps: int, weight: float, digit: int) -> tuple[float, float]:
    from ganmc.config import TrainConfig
    from ganmc.data import load_mnist
    from ganmc.train import fit_networks

    x = load_mnist("bundled", (digit,)).x_train
    config = TrainConfig(arch=arch, digits=(digit,), steps=steps, encoder_steps=0, seed=0,
                         rotation_weight=weight)
    result = fit_networks(x, config)
    return result.images_per_s, result.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=800, help="GAN steps of each run")
    p.add_argument("--arch", default="dcgan")
    p.add_argument("--digit", type=int, default=8)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    plain = train_once(args.arch, args.steps, 0.0, args.digit)
    rotating = train_once(args.arch, args.steps, 1.0, args.digit)
    rows = [["without", plain[0], plain[1]], ["with (weight 1)", rotating[0], rotating[1]]]
    text = (f"## The rotation task's cost (`python -m benchmarks.rotation_speed`)\n\n"
            f"{machine()}. {args.arch}, digit {args.digit}, {args.steps:,} GAN steps of 64, "
            f"seed 0, each run alone.\n\n"
            + table(["rotation task", "images/s (compiled steps)", "training s"], rows)
            + f"\n\nSlowdown: **{plain[0] / rotating[0]:.2f}×** in images/s, "
            f"{rotating[1] / plain[1]:.2f}× in training time "
            f"(`ganmc.config.ROTATION_SLOWDOWN` is the first).")
    print(text)
    if not args.no_write:
        write_section("rotation-speed", text)


if __name__ == "__main__":
    main()
