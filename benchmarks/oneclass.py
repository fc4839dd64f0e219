"""The one-class search loop: ``python -m benchmarks.oneclass --digits 2,3,8 [--quick]
[--set rotation_weight=1] [--label NAME]``.

For each digit k: trains G and D (no encoder, no calibration, no simulation: only what the
scores need) on the bundled split's training images of k less the model's hold-out share,
exactly as ``ganmc train --digits k`` would with the same settings; fits the feature Gaussian;
scores the split's 2,000 test digits (the other nine digits are the anomalies) and gives the
one-class AUROC of

- ``mahalanobis``: the Gaussian over D's features (the default score of a model without an
  encoder);
- ``rotation`` (only with ``rotation_weight``): the GeoTrans score, how badly D's rotation
  head recognises the four quarter turns of the image (mean cross-entropy);
- ``combined``: both, each standardised by its mean and spread on the held-out normal images
  (the model's calibration share, never trained on), added;
- ``two layers``: Lee et al.'s feature ensemble, ``mahalanobis`` and a Gaussian over D's first
  layer, standardised the same way and added;
- ``simpler w`` / ``simpler-only w``: ``mahalanobis`` corrected for the image's complexity
  (Serra et al. 2020: density scores favour simple images, and a 1 is a subset of an 8's
  strokes): ``mahalanobis`` standardised as above, less w times the image's stroke length
  (``ganmc.nets.density.stroke_length``) standardised the same way; ``simpler-only`` counts only
  images simpler than the normal ones (the correction is never below 0).

``--snapshots`` also scores with D as it was at each point of the live quality curve (the test
AUROC along training, and ensembles of the last snapshots); ``--keep DIR`` saves each digit's
networks for ``python -m benchmarks.oneclass_scores DIR``.

Seeds are fixed (``--seed``), so a row is reproducible on one machine. ``--quick`` trains
2,000 steps instead of the preset's (for trying ideas in minutes; confirm with the preset).
Every run is appended to ``docs/benchmarks-oneclass.jsonl`` with its time and load, and the
table of all runs is written into docs/benchmarks.md (section ``oneclass``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from benchmarks.common import DOC, machine, table, write_section

LOG = DOC.with_name("benchmarks-oneclass.jsonl")
#: Settings the loop sets itself.
RESERVED = ("digits", "seed", "encoder_steps", "encoder_epochs")
QUICK_STEPS = 2_000
#: Settings of the probes (module constants the loop sets), not of ``TrainConfig``.
PROBES = ("g_share", "d_convs")


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def rotation_scores(features, head, images: np.ndarray) -> np.ndarray:
    """Mean cross-entropy of the rotation head over the four quarter turns of each image
    (higher = the turns are harder to tell = more anomalous)."""
    import tensorflow as tf

    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.gan import rotate
    from ganmc.nets.networks import ROTATIONS

    x = to_model_input(images)
    out = []
    for i in range(0, len(x), 512):
        batch = tf.constant(x[i:i + 512])
        ce = []
        for k in range(ROTATIONS):
            turned = rotate(batch, tf.fill([len(batch)], k))
            logits = head(features(turned, training=False)[0], training=False)
            ce.append(tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.fill([len(batch)], k), logits))
        out.append(np.mean(np.stack(ce), axis=0))
    return np.concatenate(out)


#: Weights of the complexity correction the loop reports.
SIMPLER_WEIGHTS = (0.25, 0.5, 1.0)


def stroke_length(images: np.ndarray) -> np.ndarray:
    """The product's :func:`ganmc.nets.density.stroke_length` of uint8 images (N, 28, 28)."""
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import stroke_length as length

    return np.asarray(length(to_model_input(images)), np.float64)


def standardised(test: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Scores in units of their spread on the held-out normal images, from their mean there (so
    that scores of different kinds can be added)."""
    return (test - held.mean()) / (held.std() + 1e-12)


def digit_split(k: int, config):
    """The bundled split's images of digit ``k`` and the training images less the hold-out
    share that ``config`` (its seed and calibration fraction) keeps back, as
    ``ganmc train --digits k`` splits them: (splits, training images, held-out images)."""
    from ganmc.images.data import holdout_indices, load_mnist

    splits = load_mnist("bundled", (k,))
    i_train, i_hold = holdout_indices(len(splits.x_train), config.calibration_fraction,
                                      config.seed)
    return splits, splits.x_train[i_train], splits.x_train[i_hold]


class Snapshots:
    """A training probe (``fit_networks(probe=)``) that, at each of the live quality curve's
    points, fits the feature Gaussian to D as it is then and keeps its distances of the test
    and held-out images: the test AUROC along training, and ensembles of the last snapshots
    (each standardised on the held-out normals, added)."""

    def __init__(self, x, test, held, components: int):
        self.x, self.test, self.held, self.components = x, test, held, components
        self.scores: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, discriminator) -> dict:
        from ganmc.nets.density import FeatureGaussian, features_of
        from ganmc.nets.networks import feature_model

        features = feature_model(discriminator)
        gauss = FeatureGaussian.fit(features_of(features, self.x), self.components)
        self.scores.append(tuple(np.asarray(gauss.distance(features_of(features, i)))
                                 for i in (self.test, self.held)))
        return {}

    def ensemble(self, last: int) -> np.ndarray:
        return sum(standardised(t, h) for t, h in self.scores[-last:])


def run_digit(k: int, settings: dict, seed: int, keep: str | None = None,
              snapshots: bool = False) -> dict:
    from ganmc.core.config import TrainConfig
    from ganmc.nets.density import features_of, fit_density
    from ganmc.nets.networks import Networks
    from ganmc.nets.train import fit_networks
    from ganmc.thresholds.metrics import auroc

    config = TrainConfig(digits=(k,), seed=seed, encoder_steps=0,
                         **{n: v for n, v in settings.items() if n not in PROBES})
    splits, x, held = digit_split(k, config)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    probe = Snapshots(x, splits.x_test, held, config.feature_components) if snapshots else None
    result = fit_networks(x, config, probe=probe)
    train_s = time.perf_counter() - t
    nets = Networks(result.generator, result.discriminator, None)
    if keep:  # the trained networks, for trying other scores without training again
        from pathlib import Path

        folder = Path(keep) / f"digit{k}"
        folder.mkdir(parents=True, exist_ok=True)
        result.discriminator.save(folder / "discriminator.keras")
        result.generator.save(folder / "generator.keras")
        if result.rotation_head is not None:
            result.rotation_head.save(folder / "rotation_head.keras")
        # the split they were trained on, for benchmarks.oneclass_scores
        (folder / "config.json").write_text(json.dumps(config.to_dict()))
    gauss = fit_density(nets, x, config.feature_components)
    normal = splits.test_is_normal

    maha = {"test": np.asarray(gauss.distance(features_of(nets.features, splits.x_test))),
            "held": np.asarray(gauss.distance(features_of(nets.features, held)))}
    scores = {"mahalanobis": maha["test"]}
    # Lee et al.'s feature ensemble: a Gaussian over D's first layer too, the two added.
    import keras

    from ganmc.nets.density import FeatureGaussian

    first = keras.Model(nets.discriminator.inputs[0],
                        [nets.discriminator.get_layer("d_act0").output,
                         nets.discriminator.outputs[0]])
    g0 = FeatureGaussian.fit(features_of(first, x), config.feature_components)
    low = {"test": np.asarray(g0.distance(features_of(first, splits.x_test))),
           "held": np.asarray(g0.distance(features_of(first, held)))}
    scores["two layers"] = (standardised(maha["test"], maha["held"])
                            + standardised(low["test"], low["held"]))
    length = standardised(stroke_length(splits.x_test), stroke_length(held))
    maha_z = standardised(maha["test"], maha["held"])
    for w in SIMPLER_WEIGHTS:
        scores[f"simpler {w:g}"] = maha_z - w * length
        scores[f"simpler-only {w:g}"] = maha_z + w * np.maximum(0.0, -length)
    if result.rotation_head is not None:
        rot = {"test": rotation_scores(nets.features, result.rotation_head, splits.x_test),
               "held": rotation_scores(nets.features, result.rotation_head, held)}
        scores["rotation"] = rot["test"]
        scores["combined"] = (standardised(maha["test"], maha["held"])
                              + standardised(rot["test"], rot["held"]))
    extra = {}
    if probe is not None:
        for last in (3, 5):
            scores[f"last {last} snapshots"] = probe.ensemble(last)
        extra["curve"] = {str(q["step"]): round(float(auroc(t[normal], t[~normal])), 4)
                          for q, (t, _) in zip(result.quality_curve, probe.scores)}
    return {"digit": k, "steps": config.steps, "seed": seed, **extra,
            "auroc": {name: round(float(auroc(s[normal], s[~normal])), 4)
                      for name, s in scores.items()},
            "train_s": round(train_s, 1), "total_s": round(time.perf_counter() - t, 1),
            "load": round(load, 2)}


def main() -> None:
    from ganmc.core.config import parse_digits
    from ganmc.core.presets import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", default="2,3,8", help="e.g. 2,3,8 (run in that order) or all")
    p.add_argument("--preset", default="standard", choices=list(PRESETS))
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS:,} GAN steps")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a TrainConfig setting, e.g. rotation_weight=1 (repeatable)")
    p.add_argument("--g-share", type=float,
                   help="G's share of the rotation task "
                         "(ganmc.nets.gan.G_ROTATION_SHARE; 0: D only)")
    p.add_argument("--d-convs", metavar="F1,F2,...",
                   help="a probe: the filters of dcgan-deep's D convolutions "
                        "(ganmc.nets.networks.D_CONVS; e.g. 32,64,128,256 for a fourth)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", help="the run's name in the table (default: the settings)")
    p.add_argument("--note", help="a remark printed under the table for this run")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--snapshots", action="store_true",
                   help="also score with D at each live-quality point of training: the test "
                        "AUROC along training, and ensembles of the last 3 and 5 snapshots")
    p.add_argument("--keep", metavar="DIR",
                   help="save each digit's trained networks in DIR/digitK (to try scores on)")
    p.add_argument("--table", action="store_true",
                   help="print the table of every run and score in the jsonl, and stop")
    args = p.parse_args()
    if args.table:
        print(render(logged(), "each run's machine (docs/benchmarks-oneclass.jsonl)", scores=None))
        return
    settings = {"preset": args.preset}
    for item in args.set:
        name, _, value = item.partition("=")
        if name.strip() in RESERVED:
            p.error(f"--set {name.strip()}: this loop sets it itself (use --seed, --digits; "
                    f"no encoder is trained)")
        settings[name.strip()] = _value(value.strip())
    if args.quick:
        settings["steps"] = QUICK_STEPS
    if args.g_share is not None:
        import ganmc.nets.gan

        ganmc.nets.gan.G_ROTATION_SHARE = args.g_share
        settings["g_share"] = args.g_share
    if args.d_convs:
        import ganmc.nets.networks

        ganmc.nets.networks.D_CONVS["dcgan-deep"] = tuple(int(f) for f in args.d_convs.split(","))
        settings["d_convs"] = args.d_convs
    label = args.label or ", ".join(f"{k}={v}" for k, v in settings.items())
    label += f" (seed {args.seed})" if args.seed and f"seed {args.seed}" not in label else ""
    given = [int(d) for d in args.digits.split(",") if d.strip().isdigit()]
    chosen = parse_digits(args.digits)
    for k in (given if sorted(given) == list(chosen) else chosen):
        row = {"label": label, "settings": settings, **run_digit(k, settings, args.seed, args.keep,
                                                              args.snapshots)}
        if args.note:
            row["note"] = args.note
        print(json.dumps(row), flush=True)
        if not args.no_write:
            with LOG.open("a") as f:
                f.write(json.dumps(row) + "\n")
    if not args.no_write:
        write_section("oneclass", render(logged(), machine()))


def logged() -> list[dict]:
    """Every run in ``docs/benchmarks-oneclass.jsonl``."""
    return [json.loads(line) for line in LOG.read_text().splitlines() if line.strip()]


def render(rows: list[dict], machine_line: str, scores: tuple[str, ...] | None = ("mahalanobis",)
           ) -> str:
    """The table of runs: for docs/benchmarks.md, the ``mahalanobis`` row of each run;
    ``scores=None`` (``--table``) every score each run measured."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    digits = sorted({r["digit"] for r in rows})
    # The mean is over the digits every run has, so that rows compare like with like.
    common = [d for d in digits if all(any(r["label"] == lab and r["digit"] == d for r in rows)
                                       for lab in labels)]
    lines = []
    for label in labels:
        mine = {r["digit"]: r for r in rows if r["label"] == label}  # the latest per digit
        names = [n for n in dict.fromkeys(n for r in mine.values() for n in r["auroc"])
                 if scores is None or n in scores]
        for name in names:
            vals = [mine[d]["auroc"].get(name) if d in mine else None for d in digits]
            got = [mine[d]["auroc"].get(name) for d in common]
            mean = f"{100 * sum(got) / len(got):.1f}" if got and None not in got else ""
            ten = [mine[d]["auroc"].get(name) for d in range(10) if d in mine]
            ten_mean = f"{100 * sum(ten) / 10:.1f}" if len(ten) == 10 and None not in ten else ""
            secs = [mine[d]["train_s"] for d in digits if d in mine]
            lines.append([label, name, *["" if v is None else f"{100 * v:.1f}" for v in vals],
                          mean, ten_mean, f"{sum(secs) / len(secs):.0f}"])
    shown = ("" if scores is None else
             f" Shown: the {', '.join(f'`{n}`' for n in scores)} score of each run; `python -m "
             f"benchmarks.oneclass --table` prints every score the runs measured.")
    head = ("## One-class search loop\n\n`python -m benchmarks.oneclass` — " + machine_line
            + ". Each row: G and D trained on one digit of the bundled split (its training "
            "images less the hold-out share; seed 0 unless the run's name says another), no "
            "encoder; AUROC in % on the split's 2,000 test digits (the other nine anomalous); "
            "the mean over the digits every run has (blank where a run lacks one), the mean "
            "of all ten where a run has them, and "
            "the mean training time per digit (s; other work may have shared the machine, "
            "see the load in `docs/benchmarks-oneclass.jsonl`). `rotation`: the GeoTrans "
            "score of D's rotation head; `combined`: it and `mahalanobis`, each standardised "
            "on the held-out normal images, added; `two layers`: `mahalanobis` and a "
            "Gaussian over D's first layer, added the same way; `last N snapshots` "
            "(`--snapshots`): `mahalanobis` with D as it was at each of the last N points of "
            "the live quality curve, standardised the same way and added (the run's test "
            "AUROC at every point is its `curve` in the jsonl)." + shown + "\n\n")
    notes = dict.fromkeys(f"- {r['label']}: {r['note']}." for r in rows if r.get("note"))
    return (head + table(["run", "score", *[str(d) for d in digits], "mean",
                          "mean of ten", "train s/digit"],
                         lines) + ("\n\n" + "\n".join(notes) if notes else ""))


if __name__ == "__main__":
    main()
