"""What D's extra tasks and the deeper D cost: ``python -m benchmarks.task_speed [--steps N]
[--arch dcgan]``.

Trains the same one-digit GAN (digit 8 of the bundled split, seed 0, no encoder) without any
extra task, then with each of D's extra tasks alone at weight 1 (``ganmc.core.presets.TASKS``: the
SS-GAN rotation task, the jigsaw pseudo-anomalies), then (for ``dcgan``) the same with the
deeper D (``dcgan-deep``), and compares the training speed of the compiled steps (images/s,
the first, tracing call left out) and the whole training time. The ratios are the tasks'
``slowdown`` and ``dcgan-deep``'s ``RELATIVE_TRAIN_SPEED``, which the time estimate and the
help texts use. Writes the ``task-speed`` section of docs/benchmarks.md and
docs/benchmarks-task-speed.json (its ``product`` figures are what ``ganmc.core.config`` must hold:
``tests/unit/test_benchmark_figures.py`` checks them) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import json

from benchmarks.common import DOC, machine, product_lines, table, write_section

JSON = DOC.with_name("benchmarks-task-speed.json")


def train_once(arch: str, steps: int, task: str | None, digit: int) -> tuple[float, float]:
    from ganmc.core.config import TrainConfig
    from ganmc.images.data import load_mnist
    from ganmc.nets.train import fit_networks

    x = load_mnist("bundled", (digit,)).x_train
    config = TrainConfig(arch=arch, digits=(digit,), steps=steps, encoder_steps=0, seed=0,
                         **({task: 1.0} if task else {}))
    result = fit_networks(x, config)
    return result.images_per_s, result.seconds


def main() -> None:
    from ganmc.core.presets import RELATIVE_TRAIN_SPEED, TASKS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=800, help="GAN steps of each run")
    p.add_argument("--arch", default="dcgan")
    p.add_argument("--digit", type=int, default=8)
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    plain = train_once(args.arch, args.steps, None, args.digit)
    rows, ratios = [["none", plain[0], plain[1], "1.00×"]], []
    runs = [{"task": None, "arch": args.arch, "images_per_s": plain[0], "seconds": plain[1]}]
    for task in TASKS:
        speed, seconds = train_once(args.arch, args.steps, task, args.digit)
        runs.append({"task": task, "arch": args.arch, "images_per_s": speed, "seconds": seconds})
        rows.append([f"{TASKS[task].words} (`{task}=1`)", speed, seconds,
                     f"{plain[0] / speed:.2f}×"])
        ratios.append(f"{task} {plain[0] / speed:.2f} (in use: {TASKS[task].slowdown:.2f})")
        print(rows[-1], flush=True)
    if args.arch == "dcgan":  # the thorough preset's network: the same G, a third conv in D
        speed, seconds = train_once("dcgan-deep", args.steps, None, args.digit)
        runs.append({"task": None, "arch": "dcgan-deep", "images_per_s": speed,
                     "seconds": seconds})
        rows.append(["none, deeper D (`arch=dcgan-deep`)", speed, seconds,
                     f"{plain[0] / speed:.2f}×"])
        ratios.append(f"dcgan-deep's relative speed {speed / plain[0]:.2f} (in use: "
                      f"{RELATIVE_TRAIN_SPEED['dcgan-deep']:.2f})")
        print(rows[-1], flush=True)
    text = (f"## What D's extra tasks and the deeper D cost "
            f"(`python -m benchmarks.task_speed`)\n\n"
            f"{machine()}. {args.arch}, digit {args.digit}, {args.steps:,} GAN steps of 64, "
            f"seed 0, each run alone.\n\n"
            + table(["extra task", "images/s (compiled steps)", "training s", "slowdown"], rows)
            + "\n\nThe slowdown is in images/s; `ganmc.core.presets.TASKS` (the tasks) and "
            "`RELATIVE_TRAIN_SPEED` (the networks) hold it for the time estimate and the help "
            "texts: " + "; ".join(ratios) + ".")
    print(text)
    figures = product_figures(runs) if args.arch == "dcgan" else {}
    print(product_lines(figures))
    if not args.no_write:
        write_section("task-speed", text)
        JSON.write_text(json.dumps({"machine": machine(), "arch": args.arch,
                                    "digit": args.digit, "steps": args.steps, "runs": runs,
                                    "product": figures}, indent=1))


def product_figures(runs: list[dict]) -> dict[str, float]:
    """The product constants this benchmark measures (from a ``dcgan`` run): each task's
    slowdown (images/s without it over images/s with it) and ``dcgan-deep``'s training speed
    against ``dcgan``'s, to two decimals."""
    plain = next(r["images_per_s"] for r in runs if r["task"] is None and r["arch"] == "dcgan")
    figures = {f"ganmc.core.presets:TASKS[{r['task']!r}].slowdown":
               round(plain / r["images_per_s"], 2)
               for r in runs if r["task"]}
    for r in runs:
        if r["task"] is None and r["arch"] != "dcgan":
            figures[f"ganmc.core.presets:RELATIVE_TRAIN_SPEED[{r['arch']!r}]"] = round(
                r["images_per_s"] / plain, 2)
    return figures


if __name__ == "__main__":
    main()
