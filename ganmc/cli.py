"""The ``ganmc`` command: train, simulate, score, evaluate, info.

Each command is a thin face over the package's chain; errors caused by input print one line
and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

from ganmc import __version__
from ganmc.config import DEFAULT_FEATURE_COMPONENTS, DEFAULT_KAPPA, DEFAULT_SEARCH_STEPS, SCORERS
from ganmc.errors import GanmcError, one_line

log = logging.getLogger("ganmc")

EPILOG = "Run 'ganmc COMMAND --help' for a command's options."


class ProgressBar:
    """A one-line text progress bar on stderr (redrawn in place when stderr is a terminal)."""

    def __init__(self, label: str, stream=sys.stderr, width: int = 28):
        self.label, self.stream, self.width = label, stream, width
        self.tty = stream.isatty()
        self._last = ""
        self._last_t = 0.0

    def update(self, fraction: float, text: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.tty and now - self._last_t < 2.0:
            return  # in logs, a line every 2 s is enough
        self._last_t = now
        filled = int(round(self.width * min(max(fraction, 0.0), 1.0)))
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] " \
               f"{100 * fraction:5.1f}% {text}"
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._last)))
        else:
            self.stream.write(line + "\n")
        self._last = line
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (once, however often it is called)."""
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
        self._last = ""


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


# ---------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    from ganmc.config import parse_digits
    from ganmc.detector import train_model
    from ganmc.train import checkpoint_dir, read_checkpoint

    digits = parse_digits(args.digits)
    out = Path(args.out or f"models/{args.arch}-{''.join(map(str, digits))}")
    print(f"Training {args.arch} on digits {','.join(map(str, digits))} from {args.data}; "
          f"writing {out}", file=sys.stderr)
    if args.resume:
        state = read_checkpoint(checkpoint_dir(out))
        if state is None:
            print(f"No checkpoint in {checkpoint_dir(out)}: starting afresh", file=sys.stderr)
        else:
            print(f"Resuming from the checkpoint: {state['epoch']} "
                  f"{'GAN' if state['phase'] == 'gan' else 'encoder'} epochs done",
                  file=sys.stderr)
    bar = ProgressBar("train")

    def progress(p) -> None:
        losses = " ".join(f"{k}={v:.3f}" for k, v in p.logs.items() if k in
                          ("d_loss", "g_loss", "e_loss"))
        bar.update(p.fraction, f"{p.phase} {p.epoch}/{p.epochs} {losses} "
                   f"{p.images_per_s:,.0f} img/s ETA {_eta(p.eta_s)}", force=p.epoch_end)
        if p.epoch_end and p.fraction >= 1.0:
            bar.close()
            print("Calibrating on the held-out digits (the latent-search score takes longest) "
                  "and running the Monte Carlo simulation…", file=sys.stderr)

    try:
        det = train_model(out, data=args.data, digits=digits, progress=progress,
                          resume=args.resume, arch=args.arch, epochs=args.epochs,
                          encoder_epochs=args.encoder_epochs, batch_size=args.batch_size,
                          latent_dim=args.latent_dim, kappa=args.kappa, seed=args.seed,
                          search_steps=args.search_steps,
                          feature_components=args.feature_components,
                          mc_samples=args.mc_samples,
                          calibration_fraction=args.calibration_fraction)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted; the last finished epoch is in {checkpoint_dir(out)}: run the same "
              f"command with --resume to go on", file=sys.stderr)
        return 130
    bar.close()
    m = det.metadata_
    print(f"Saved {out} ({m['device']}, {m['train_seconds']:.1f} s, "
          f"{m['train_images_per_s']:,.0f} img/s)")
    _print_calibration(det)
    return 0


def _print_calibration(det) -> None:
    """One line per scorer: its thresholds at the detector's alpha, from each source."""
    for name in det.scorers_:
        parts = []
        for source, have, n in (("holdout", name in det.holdout_scores_,
                                 len(det.holdout_scores_.get(name, ()))),
                                ("monte-carlo", name in det.monte_carlo_,
                                 getattr(det.monte_carlo_.get(name), "n", 0))):
            if have:
                t = det.calibration_for(name, source).threshold(det.alpha)
                parts.append(f"{source} threshold {t:.5g} (n={n:,})")
        print(f"  scorer {name}: {'; '.join(parts) or 'no calibration'}")
    far = det.monte_carlo_false_alarm()
    if far is not None:
        print(f"  At a nominal {100 * det.alpha:g}% false-alarm rate, the Monte Carlo threshold "
              f"flags {100 * far:.1f}% of held-out normal images ({det.scorer_}); the holdout "
              f"(conformal) threshold is used for verdicts.")


def _load(args):
    from ganmc.detector import load_model

    det = load_model(args.model)
    if getattr(args, "scorer", None):
        det.scorer = args.scorer
    if getattr(args, "calibration", None):
        det.calibration = args.calibration
    if getattr(args, "percentile", None) is not None:
        if not 0 < args.percentile < 100:
            raise GanmcError("--percentile must be between 0 and 100")
        det.alpha = 1.0 - args.percentile / 100.0
    if det.calibration == "monte-carlo" and args.command in ("score", "evaluate"):
        det.run_monte_carlo(args.samples, seed=args.seed)
    return det


def cmd_simulate(args: argparse.Namespace) -> int:
    from ganmc import files, report

    det = _load(args)
    bar = ProgressBar("simulate")
    result = det.run_monte_carlo(
        args.samples, seed=args.seed, batch_size=args.batch_size, precision=args.precision,
        progress=lambda r: bar.update(r.n / r.n_target, f"{r.n:,}/{r.n_target:,} "
                                      f"{r.samples_per_s:,.0f} samples/s", force=r.done))
    bar.close()
    s = result.summary(args.percentile)
    lo, hi = s["threshold_ci95"]
    print(f"Monte Carlo over {s['samples']:,} generated images (scorer {s['scorer']}, "
          f"seed {s['seed']}, {s['precision']}, {s['seconds']:.1f} s, "
          f"{s['samples_per_s']:,.0f} samples/s)")
    print(f"  threshold ({args.percentile:g}th percentile): {s['threshold']:.6g}  "
          f"(95% CI {lo:.6g} - {hi:.6g})")
    print(f"  mean {s['mean']:.6g}  std {s['std']:.6g}  min {s['min']:.6g}  max {s['max']:.6g}")
    far = det.monte_carlo_false_alarm(1 - args.percentile / 100)
    if far is not None:
        s["false_alarm_rate_on_holdout"] = far
        print(f"  on {len(det.holdout_scores_[det.scorer_]):,} held-out real normal images this "
              f"threshold flags {100 * far:.1f}% (nominal {100 - args.percentile:g}%)")
    print("  " + s["interpretation"])
    if args.out:
        out = Path(args.out)
        png = report.histogram_png(result.distribution, s["threshold"],
                                   title=f"Monte Carlo scores of {s['samples']:,} generated images")
        files.atomic_write_bytes(out / "histogram.png", png)
        edges, counts = result.distribution.histogram(100)
        files.write_table(out / "histogram.csv", [
            {"bin_start": float(a), "bin_end": float(b), "count": int(c)}
            for a, b, c in zip(edges[:-1], edges[1:], counts)])
        files.atomic_write_bytes(out / "summary.json", json.dumps(s, indent=2).encode())
        print(f"Wrote {out / 'histogram.png'}, histogram.csv and summary.json")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ganmc import files
    from ganmc.inputs import read_inputs

    images = read_inputs(args.inputs)
    det = _load(args)
    verdicts = det.verdicts(images.x)
    rows = [{"source": src, "index": idx, "score": round(v.score, 6),
             "p_value": round(v.p_value, 6), "verdict": v.label}
            for src, idx, v in zip(images.sources, images.indices, verdicts)]
    if args.out:
        files.write_table(args.out, rows)
        n_anom = sum(v.is_anomaly for v in verdicts)
        print(f"Scored {len(rows)} images: {n_anom} anomalies, {len(rows) - n_anom} normal "
              f"(threshold {verdicts[0].threshold:.6g}, {det.calibration_.source}); "
              f"wrote {args.out}", file=sys.stderr)
    else:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ganmc import files, metrics
    from ganmc.inputs import read_inputs

    normal = read_inputs(args.normal)
    anomalous = read_inputs(args.anomalous)
    det = _load(args)
    s_n, s_a = det.score_samples(normal.x), det.score_samples(anomalous.x)
    t = det.threshold_
    result = {"scorer": det.scorer_, "calibration": det.calibration_.source,
              "alpha": det.alpha, "threshold": t, "n_normal": len(s_n), "n_anomalous": len(s_a),
              "auroc": metrics.auroc(s_n, s_a),
              "average_precision": metrics.average_precision(s_n, s_a),
              **metrics.rates_at(t, s_n, s_a)}
    print(f"{result['n_normal']:,} normal vs {result['n_anomalous']:,} anomalous images "
          f"(scorer {result['scorer']}, calibration {result['calibration']})")
    print(f"  AUROC {result['auroc']:.4f}   average precision {result['average_precision']:.4f}")
    print(f"  at threshold {t:.6g} (nominal false-alarm rate {100 * det.alpha:g}%): "
          f"false alarms {100 * result['false_alarm_rate']:.1f}%, "
          f"detections {100 * result['detection_rate']:.1f}%")
    if args.json:
        files.atomic_write_bytes(args.json, json.dumps(result, indent=2).encode())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ganmc import files, report
    from ganmc.inputs import read_inputs

    images = read_inputs(args.images) if args.images else None
    det = _load(args)
    scorer = det.scorer_
    mc = None
    if args.samples:
        bar = ProgressBar("simulate")
        mc = det.run_monte_carlo(args.samples, seed=args.seed, scorer=scorer, progress=lambda r:
                                 bar.update(r.n / r.n_target, f"{r.n:,}/{r.n_target:,}",
                                            force=r.done))
        bar.close()
    percentile = 100.0 * (1.0 - det.alpha)
    calibration = det.calibration_for(scorer)  # _load applied --calibration
    examples = report.test_split_examples(det, scorer=scorer, calibration=calibration,
                                          alpha=det.alpha)
    named = [(f"{Path(s).name}" + (f"[{i}]" if i else ""), x)
             for s, i, x in zip(images.sources, images.indices, images.x)] if images else []
    data = report.build_report_data(det, percentile=percentile, scorer=scorer, monte_carlo=mc,
                                    calibration_source=calibration.source, images=named,
                                    examples=examples)
    out = Path(args.out)
    files.atomic_write_bytes(out, report.report_png(data))
    files.atomic_write_bytes(out.with_suffix(".json"),
                              json.dumps(report.report_summary(data), indent=2).encode())
    files.write_table(out.with_suffix(".csv"), report.report_rows(data))
    print(f"Wrote {out} ({report.REPORT_SIZE[0]}x{report.REPORT_SIZE[1]}), "
          f"{out.with_suffix('.json')} and {out.with_suffix('.csv')}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ganmc import bundle

    card = bundle.read_card(args.model or bundle.DEFAULT_MODEL)
    print(json.dumps(card, indent=2) if args.json else _card_text(card))
    return 0


def _card_text(card: dict) -> str:
    c, m = card.get("config", {}), card.get("metadata", {})
    lines = [f"arch {c.get('arch')}, latent {c.get('latent_dim')}, normal digits "
             f"{c.get('digits')}, epochs {c.get('epochs')} + encoder {c.get('encoder_epochs')}",
             f"data {m.get('data_source')}: {m.get('n_train')} train, "
             f"{m.get('n_calibration')} calibration images",
             f"trained {m.get('trained_at')} on {m.get('device')} in {m.get('train_seconds')} s",
             f"scorers {', '.join(card.get('scorers', []))}; verdicts use scorer "
             f"{card.get('scorer')}, calibration {card.get('calibration')}, alpha "
             f"{card.get('alpha')}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


SEED_MAX = 2**32 - 1


def _seed(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 0 to {SEED_MAX} (2**32-1)")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more")
    return value


def _percentile(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 100:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 100")
    return value


def _add_model(p: argparse.ArgumentParser, *, percentile: bool = True,
               mc_options: bool = False) -> None:
    p.add_argument("--model", metavar="DIR",
                   help="model folder (default: the pretrained model under assets/model)")
    p.add_argument("--scorer", choices=SCORERS,
                   help="anomaly score (default: the model's, fanogan when it has an encoder, "
                        "else mahalanobis; mahalanobis: distance of the discriminator's "
                        "features from the training digits'; latent-search is AnoGAN's "
                        "per-image optimisation, about 100 times slower)")
    if percentile:
        p.add_argument("--percentile", type=_percentile, metavar="P",
                       help="threshold level: P%% of normal scores fall below it "
                            "(default 95, i.e. 5%% false alarms)")
        p.add_argument("--calibration", choices=("holdout", "monte-carlo"),
                       help="threshold source (default: holdout, conformal on real held-out "
                            "normal digits, when the model has one)")
    if mc_options:
        p.add_argument("--samples", type=_positive_int, default=100_000,
                       help="Monte Carlo samples when --calibration monte-carlo "
                            "(default 100000)")
        p.add_argument("--seed", type=_seed, default=0, help="Monte Carlo seed (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganmc", epilog=EPILOG,
        description="GAN-based anomaly detection for 28x28 digit images, with Monte Carlo "
                    "and conformal thresholds.")
    parser.add_argument("--version", action="version", version=f"ganmc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a GAN (and its f-AnoGAN encoder) on normal digits",
                       description="Train a GAN on the normal digits, then its encoder; "
                                   "calibrate on held-out normal digits; save a model folder.")
    p.add_argument("--data", default="auto", metavar="SOURCE",
                   help="auto (Keras MNIST, else the bundled copy offline), keras, bundled, or "
                        "a path to an .npz / IDX file / folder of IDX files (default: auto)")
    p.add_argument("--digits", default="all", help="normal digits: all, 3, 0,1,2 or 0-4 "
                                                   "(default: all)")
    p.add_argument("--arch", choices=("dcgan", "mlp"), default="dcgan",
                   help="dcgan (small convolutional GAN) or mlp (the seed notebook's) "
                        "(default: dcgan)")
    p.add_argument("--epochs", type=_positive_int, default=10, help="GAN epochs (default 10)")
    p.add_argument("--encoder-epochs", type=_non_negative_int, default=None,
                   help="encoder epochs; 0 for none (default: as --epochs)")
    p.add_argument("--batch-size", type=_positive_int, default=128, help="default 128")
    p.add_argument("--latent-dim", type=_positive_int, default=None,
                   help="latent size (default: 64 for dcgan, 100 for mlp)")
    p.add_argument("--kappa", type=_non_negative_float, default=DEFAULT_KAPPA,
                   help="weight of the discriminator-feature residual in the fanogan score "
                        f"(default {DEFAULT_KAPPA:g})")
    p.add_argument("--search-steps", type=_positive_int, default=DEFAULT_SEARCH_STEPS,
                   help="optimisation steps per image of the latent-search scorer "
                        f"(default {DEFAULT_SEARCH_STEPS})")
    p.add_argument("--feature-components", type=_positive_int,
                   default=DEFAULT_FEATURE_COMPONENTS,
                   help="principal directions of the discriminator's features kept by the "
                        f"mahalanobis scorer's Gaussian (default {DEFAULT_FEATURE_COMPONENTS})")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--calibration-fraction", type=float, default=0.1,
                   help="share of normal images held out for calibration (default 0.1)")
    p.add_argument("--mc-samples", type=_non_negative_int, default=20_000,
                   help="Monte Carlo samples simulated after training (default 20000)")
    p.add_argument("--out", metavar="DIR", help="model folder to write "
                                                "(default: models/ARCH-DIGITS)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoint of an interrupted run with the same --out")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("simulate", help="Monte Carlo: score N generated images, find the "
                                        "threshold",
                       description="Generate N images with the trained generator, score "
                                   "each, and take a percentile of the scores as threshold.")
    _add_model(p, percentile=False)
    p.add_argument("--samples", type=_positive_int, default=100_000,
                   help="number of generated images (default 100000)")
    p.add_argument("--percentile", type=_percentile, default=95.0,
                   help="threshold percentile (default 95)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="images per compiled call (default: 8192 on a CPU, 65536 on a GPU)")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="bfloat16 is faster where the hardware has it (AVX-512 BF16 / AMX "
                        "CPUs, GPUs); auto picks it there (default auto)")
    p.add_argument("--out", metavar="DIR",
                   help="write histogram.png, histogram.csv and summary.json here")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("score", help="score images: score, p-value and verdict for each",
                       description="Score images. INPUT is an image file (PNG, JPEG, BMP, "
                                   "GIF, ...), a folder of them, an .npz with an x array "
                                   "(N x 28 x 28) or an IDX images file.")
    _add_model(p, mc_options=True)
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", metavar="FILE", help="write .csv or .json (default: CSV on stdout)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("evaluate", help="AUROC, average precision and rates on labelled sets",
                       description="Measure how well normal and anomalous images are told "
                                   "apart, and the false-alarm and detection rates at the "
                                   "model's threshold.")
    _add_model(p, mc_options=True)
    p.add_argument("--normal", nargs="+", required=True, metavar="INPUT",
                   help="images that are normal")
    p.add_argument("--anomalous", nargs="+", required=True, metavar="INPUT",
                   help="images that are anomalies")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", help="write the PNG report (histogram, numbers, verdicts)",
                       description="Render the report as one PNG (offline), with the same "
                                   "numbers as JSON and CSV beside it: the score histogram "
                                   "with the threshold, the summary, example test images and "
                                   "the given images with their verdicts.")
    _add_model(p)
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="images to judge in the report (files, folders, .npz, IDX)")
    p.add_argument("--samples", type=_non_negative_int, default=100_000,
                   help="Monte Carlo samples to simulate; 0 uses the model's stored run "
                        "(default 100000)")
    p.add_argument("--seed", type=_seed, default=0, help="Monte Carlo seed (default 0)")
    p.add_argument("--out", metavar="FILE.png", default="report.png",
                   help="where to write the PNG; .json and .csv go beside it "
                        "(default report.png)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("info", help="show a model's card",
                       description="Show how a model was made and calibrated.")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the pretrained one)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganmc`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command != "info":
            from ganmc.runtime import quiet_tensorflow

            quiet_tensorflow()
        return args.func(args)
    except GanmcError as exc:
        print(f"ganmc {args.command}: error: {one_line(exc, 2000)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganmc {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `ganmc score ... | head`): stop quietly, as Unix tools do.
        # Later writes (Python's flush at exit) go to /dev/null instead of raising again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real stdout (e.g. captured)
            pass
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe stopped


if __name__ == "__main__":
    sys.exit(main())
