"""The ``ganmc`` command's parser and entry point; the commands are in :mod:`ganmc.cli.commands`.

Errors caused by input print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ganmc import __version__
from ganmc.cli import args as argtypes
from ganmc.core.config import (
    ARCH_ABOUT,
    ARCHS,
    CALIBRATIONS,
    DEFAULT_CALIBRATION_FRACTION,
    DEFAULT_CALIBRATION_FRACTION_DIGITS,
    DEFAULT_DRIFT_DELTA,
    DEFAULT_FEATURE_COMPONENTS,
    DEFAULT_KAPPA,
    DEFAULT_LATENT,
    DEFAULT_MC_SAMPLES,
    DEFAULT_PAC_DELTA,
    DEFAULT_PERCENTILE,
    DEFAULT_SEARCH_STEPS,
    DEFAULT_TRAIN_MC_SAMPLES,
    FRAMING_ABOUT,
    FRAMINGS,
    PRECISIONS,
    SCORERS,
    TrainConfig,
)
from ganmc.core.errors import GanmcError, one_line
from ganmc.core.presets import DEFAULT_PRESET, PRESETS, TASKS
from ganmc.core.scorers import help_text
from ganmc.deploy.export import INSTALL
from ganmc.thresholds.calibration import AUTO_SOURCE_RULE, MAX_NAME_CHARS, SOURCE_WORDS
from ganmc.thresholds.distribution import percent
from ganmc.thresholds.montecarlo import MAX_SAMPLES

log = logging.getLogger("ganmc")

EPILOG = "Run 'ganmc COMMAND --help' for a command's options."


# ---------------------------------------------------------------------------- parser
class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line, ``ganmc COMMAND: error: ...``, like every
    other error of the command (its usage block is in ``--help``)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message, 2000)} (see {self.prog} "
                     f"--help)\n")


def _add_model(p: argparse.ArgumentParser, *, percentile: bool = True,
               mc_options: bool = False) -> None:
    p.add_argument("--model", metavar="DIR",
                   help="model folder (default: the pretrained model under assets/model)")
    p.add_argument("--scorer", choices=SCORERS,
                   help=f"anomaly score (default: the model's). {help_text()}")
    if percentile:
        p.add_argument("--percentile", type=argtypes.percentile, metavar="P",
                       help="threshold level: P%% of normal scores fall below it "
                            f"(default {DEFAULT_PERCENTILE:g}, i.e. "
                            f"{100 - DEFAULT_PERCENTILE:g}%% false alarms)")
        p.add_argument("--calibration", choices=CALIBRATIONS,
                       help=("threshold source (default: the model's, auto: "
                             f"{AUTO_SOURCE_RULE}). " + "; ".join(
                                 f"{name}: {words}" for name, words in SOURCE_WORDS.items())
                             ).replace("%", "%%"))
        p.add_argument("--pac-confidence", type=argtypes.confidence, metavar="C",
                       default=None,
                       help="for --calibration pac or per-digit-pac: the chance, over the "
                            "draw of the calibration images, that at most the level's share "
                            "of new normal images is flagged (default: the model's, "
                            f"{100 * (1 - DEFAULT_PAC_DELTA):g}); higher needs more images")
    if mc_options:
        p.add_argument("--samples", type=argtypes.samples, default=DEFAULT_MC_SAMPLES,
                       help="Monte Carlo samples when --calibration monte-carlo "
                            f"(default {DEFAULT_MC_SAMPLES})")
        p.add_argument("--seed", type=argtypes.seed, default=0, help="Monte Carlo seed (default 0)")


def _add_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--errors", metavar="FILE.csv",
                   help="also list the refused files (source,reason) in this CSV file")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first file that cannot be read (default: score every "
                        "readable image, list the others on stderr and exit with status 2)")


def _own_data_command(sub, name: str, summary: str, description: str) -> None:
    """A command that updates a saved model from its own data (the card names it)."""
    p = sub.add_parser(name, help=summary, description=description)
    p.add_argument("--model", metavar="DIR", required=True, help="model folder to update")
    p.add_argument("--data", help="the model's data source if not the card's")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ganmc", epilog=EPILOG,
        description="GAN-based anomaly detection for 28x28 digit images, with Monte Carlo "
                    "and conformal thresholds.")
    parser.add_argument("--version", action="version", version=f"ganmc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    presets = "; ".join(f"{name}: {v.arch}, {v.steps:,} GAN + {v.encoder_steps:,} encoder "
                        f"steps of {v.batch_size}, {v.about}" for name, v in PRESETS.items())
    p = sub.add_parser("train", help="train a GAN (and its f-AnoGAN encoder) on normal digits "
                                     "or your own normal images",
                       description="Train a GAN on the normal digits, or on your own normal "
                                   "pictures (--data FOLDER or ZIP), then its encoder if the "
                                   "preset has one; calibrate on held-out normal images; "
                                   "measure the model's quality; save a model folder.",
                       epilog=f"Presets ({presets}). The budget is in optimiser steps, so one "
                              f"digit trains as long as ten. Your own pictures: PNG, JPEG, "
                              f"BMP, WebP of any size, grey or colour. FOLDER/normal/ holds "
                              f"the normal ones, directly or in class folders "
                              f"(FOLDER/normal/CLASS/: a threshold per class), and an optional "
                              f"FOLDER/anomaly/ pictures that are not normal, used only to "
                              f"measure the model; without normal/, every picture in FOLDER "
                              f"is normal. What was found is printed before training.")
    p.add_argument("--data", default="auto", metavar="SOURCE",
                   help="auto (Keras MNIST, else the bundled copy offline), keras, bundled, a "
                        "path to an .npz / IDX file / folder of IDX files, or your own "
                        "pictures: a folder or .zip of them (default: auto)")
    p.add_argument("--digits", default=None, help="normal digits of MNIST: all, 3, 0,1,2 or "
                                                  "0-4 (default: all)")
    p.add_argument("--framing", choices=FRAMINGS, default=None,
                   help="how your own pictures are put into the model's 28x28 frame, stored "
                        "with the model and applied to every image it judges: "
                        + "; ".join(f"{name}: {about}" for name, about in FRAMING_ABOUT.items())
                        + " (default: digits)")
    p.add_argument("--preview", metavar="FILE.png",
                   help="also write a grid of your pictures as the model will see them")
    p.add_argument("--dry-run", action="store_true",
                   help="read your pictures, say what was found (and write --preview) and, "
                        "when they can be trained on, how long the training should take; "
                        "stop before training")
    p.add_argument("--arch", choices=ARCHS, default=None,
                   help="; ".join(f"{name}: {about}" for name, about in ARCH_ABOUT.items())
                   + " (default: the preset's, " + ", ".join(
                       f"{p.arch} for {name}" for name, p in PRESETS.items()) + ")")
    p.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                   help=f"training budget: {', '.join(PRESETS)} (default {DEFAULT_PRESET}; "
                        f"see below)")
    p.add_argument("--steps", type=argtypes.positive_int, default=None,
                   help="GAN optimiser steps (default: the preset's)")
    p.add_argument("--encoder-steps", type=argtypes.non_negative_int, default=None,
                   help="encoder steps; 0 for no encoder (default: the preset's)")
    p.add_argument("--epochs", type=argtypes.positive_int, default=None,
                   help="GAN passes over the training images, instead of --steps")
    p.add_argument("--encoder-epochs", type=argtypes.non_negative_int, default=None,
                   help="encoder passes over the training images, instead of --encoder-steps")
    p.add_argument("--batch-size", type=argtypes.positive_int, default=None,
                   help="images per step (default: the preset's)")
    p.add_argument("--latent-dim", type=argtypes.positive_int, default=None,
                   help="latent size (default: " + ", ".join(
                       f"{v} for {k}" for k, v in DEFAULT_LATENT.items()) + ")")
    p.add_argument("--kappa", type=argtypes.non_negative_float, default=DEFAULT_KAPPA,
                   help="weight of the discriminator-feature residual in the fanogan score "
                        f"(default {DEFAULT_KAPPA:g})")
    p.add_argument("--search-steps", type=argtypes.positive_int, default=DEFAULT_SEARCH_STEPS,
                   help="optimisation steps per image of the latent-search scorer "
                        f"(default {DEFAULT_SEARCH_STEPS})")
    p.add_argument("--feature-components", type=argtypes.positive_int,
                   default=DEFAULT_FEATURE_COMPONENTS,
                   help="principal directions of the discriminator's features kept by the "
                        f"mahalanobis scorer's Gaussian (default {DEFAULT_FEATURE_COMPONENTS})")
    for name, task in TASKS.items():  # --rotation-weight, --jigsaw-weight
        p.add_argument("--" + name.replace("_", "-"), type=argtypes.non_negative_float,
                       default=getattr(TrainConfig, name),
                       help=f"weight of the {task.words}: {task.help()}".replace("%", "%%"))
    p.add_argument("--seed", type=argtypes.seed, default=0, help="random seed (default 0)")
    p.add_argument("--calibration-fraction", type=float, default=None,
                   help="share of normal images held out for calibration (default "
                        f"{DEFAULT_CALIBRATION_FRACTION_DIGITS} for several digits, whose "
                        f"thresholds are per digit, {DEFAULT_CALIBRATION_FRACTION} for one)")
    p.add_argument("--mc-samples", type=argtypes.samples_or_none, default=DEFAULT_TRAIN_MC_SAMPLES,
                   help="Monte Carlo samples simulated after training "
                        f"(default {DEFAULT_TRAIN_MC_SAMPLES})")
    p.add_argument("--out", metavar="DIR", help="model folder to write "
                                                "(default: models/ARCH-DIGITS); refused if "
                                                "it holds anything but a ganmc model")
    p.add_argument("--replace", action="store_true",
                   help="replace the model already saved at --out (without it, an existing "
                        "model is refused); the checkpoint of an interrupted run into it is "
                        "kept aside, hidden beside it, and training starts afresh")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoint of an interrupted run with the same --out")

    p = sub.add_parser("simulate", help="Monte Carlo: score N generated images, find the "
                                        "threshold",
                       description="Generate N images with the trained generator, score "
                                   "each, and take a percentile of the scores as threshold.")
    _add_model(p, percentile=False)
    p.add_argument("--samples", type=argtypes.samples, default=DEFAULT_MC_SAMPLES,
                   help=f"number of generated images, up to {MAX_SAMPLES:,} "
                        f"(default {DEFAULT_MC_SAMPLES})")
    p.add_argument("--percentile", type=argtypes.percentile, default=DEFAULT_PERCENTILE,
                   help=f"threshold percentile (default {DEFAULT_PERCENTILE:g})")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=argtypes.positive_int, default=None,
                   help="images per compiled call (default: 8192 on a CPU, 65536 on a GPU)")
    p.add_argument("--precision", choices=PRECISIONS, default=PRECISIONS[0],
                   help="bfloat16 is faster where the hardware has it (AVX-512 BF16 / AMX "
                        "CPUs, GPUs); auto picks it there (default auto)")
    p.add_argument("--out", metavar="DIR",
                   help="write histogram.png, histogram.csv and summary.json here")

    p = sub.add_parser("score", help="score images: score, p-value and verdict for each",
                       description="Score images. INPUT is an image file (PNG, JPEG, BMP, "
                                   "GIF, ...), a folder of them, an .npz with an x array "
                                   "(N x 28 x 28) or an IDX images file.",
                       epilog="Drift alarm: the images, in the order given, are compared with "
                              "the model's calibration images as they are judged (a conformal "
                              "test martingale); when the evidence that they differ reaches "
                              f"{1 / DEFAULT_DRIFT_DELTA:,.0f} to 1 (images like them reach it "
                              f"by chance at most {percent(DEFAULT_DRIFT_DELTA, 'g')} of the "
                              "time), a warning on stderr says that the threshold's promise "
                              "does not hold for them, and how to calibrate on your own "
                              "normal images (ganmc calibrate).")
    _add_model(p, mc_options=True)
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", metavar="FILE", help="write .csv or .json (default: CSV on stdout)")
    p.add_argument("--fdr", type=argtypes.rate, metavar="Q",
                   help="also judge the images as one batch at this false discovery rate "
                        "(Benjamini-Hochberg over their p-values): of the images it flags, at "
                        "most this share are expected to be normal; adds an fdr_verdict "
                        "column, e.g. --fdr 0.05")
    _add_batch(p)

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
    _add_batch(p)

    p = sub.add_parser("report", help="write the PNG report (histogram, numbers, verdicts)",
                       description="Render the report as one PNG (offline), with the same "
                                   "numbers as JSON and CSV beside it: the score histogram "
                                   "with the threshold, the summary, example test images and "
                                   "the given images with their verdicts.")
    _add_model(p)
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="images to judge in the report (files, folders, .npz, IDX)")
    p.add_argument("--samples", type=argtypes.samples_or_none, default=DEFAULT_MC_SAMPLES,
                   help="Monte Carlo samples to simulate; 0 uses the model's stored run "
                        f"(default {DEFAULT_MC_SAMPLES})")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="Monte Carlo seed (default 0)")
    p.add_argument("--out", metavar="FILE.png", default="report.png",
                   help="where to write the PNG; .json and .csv go beside it "
                        "(default report.png)")
    _add_batch(p)

    p = sub.add_parser("export", help="export the model's score and threshold to judge "
                                      "images without TensorFlow (ONNX, TFLite, SavedModel)",
                       description="Write one folder that judges images as this model does: "
                                   "the score's float32 graph, its thresholds, the held-out "
                                   "scores the p-values need, the framing, the model card, "
                                   "predict.py (numpy, Pillow and the graph's runtime) and a "
                                   "README. Before the folder is put in place, predict.py "
                                   "judges bundled test digits and noise and must give the "
                                   "package's verdicts.",
                       epilog=f"The export tools (tf2onnx, onnxruntime, ai-edge-litert): "
                              f"{INSTALL} (the dev extra includes them).")
    _add_model(p)
    p.add_argument("--format", required=True, metavar="FORMAT",
                   help="onnx (run by onnxruntime), tflite (run by ai-edge-litert) or "
                        "savedmodel (run by TensorFlow)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the export folder to write; refused if anything is there, except "
                        "an earlier export with --replace")
    p.add_argument("--replace", action="store_true",
                   help="replace the export already at --out (never anything else)")

    p = sub.add_parser("info", help="show a model's card",
                       description="Show how a model was made and calibrated.")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the pretrained one)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")

    p = sub.add_parser("assess", help="measure a model's quality card and save it in its folder",
                       description="Measure (or measure again) a model's quality card: its "
                                   "held-out normal images against the other digits and "
                                   "synthetic anomalies. For models trained before ganmc made "
                                   "one at the end of training.")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the pretrained one)")
    p.add_argument("--data", metavar="SOURCE", default=None,
                   help="the data the model was trained on (default: as its card says); its "
                        "held-out images must be the model's calibration images")
    p.add_argument("--handwriting", metavar="FILE.npz", default=None,
                   help="also measure how the verdicts hold on other people's handwriting: an "
                        ".npz of their digits and capital letters (digits, digit_labels, "
                        "capitals, capital_labels 0-25; uint8 28x28, white on black, as EMNIST's "
                        "are), each framed like an upload; the figures go onto the card")

    p = sub.add_parser("calibrate", help="calibrate a model's threshold on your own normal "
                                         "images",
                       description="Score your own normal images (files, folders, .npz, IDX) "
                                   "and make them the model's held-out set: the conformal "
                                   "threshold (per digit too) is recomputed from them and "
                                   "saved with the model under --name. Prints the band the "
                                   "false-alarm rate lands in with this many images.")
    p.add_argument("--model", metavar="DIR", required=True, help="model folder to calibrate")
    p.add_argument("inputs", nargs="+", metavar="IMAGES")
    p.add_argument("--name", default="own images", type=argtypes.calibration_name,
                   help="name of the calibration (one line, at most "
                        f"{MAX_NAME_CHARS} characters)")
    p.add_argument("--latent-search", action="store_true",
                   help="also calibrate the slow latent-search score (about a hundred times "
                        "slower than the others; without it, it is left without a hold-out "
                        "threshold unless the model's verdicts use it)")
    _add_batch(p)

    _own_data_command(sub, "add-digits",
                      "give a saved model of several digits its per-digit Gaussians and "
                      "threshold",
                      "Refit the mahalanobis Gaussian per digit from the model's own training "
                      "data (the card's source, seed and hold-out share) and recalibrate; "
                      "nothing else changes.")
    _own_data_command(sub, "refresh",
                      "bring a saved model up to this version's scores (the combined score) "
                      "and its quality card",
                      "Score the model's own held-out images again under every score this "
                      "version has (the card's data source, seed and hold-out share give them "
                      "back), simulate the new scores and measure the quality card for the "
                      "score auto now picks. The networks stay as they are.")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganmc`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _command(args)(args)
    except GanmcError as exc:
        print(f"ganmc {args.command}: error: {one_line(exc, 2000)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganmc {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_stdout()
    except OSError as exc:  # the machine's, not the input's: a full disk, a name too long, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ganmc {args.command}: error: {one_line(f'{where}{exc.strerror or exc}', 2000)}",
              file=sys.stderr)
        return 2


def _command(args: argparse.Namespace):
    """The function of the command asked for, imported now: the commands' modules load
    TensorFlow (quietened first), all but ``info``'s, so the parser and ``--help`` do not."""
    if args.command == "info":
        from ganmc.cli.info import cmd_info

        return cmd_info
    from ganmc.core.runtime import quiet_tensorflow

    quiet_tensorflow(args.verbose)
    from ganmc.cli.commands import COMMANDS

    return COMMANDS[args.command]


def _quiet_stdout() -> int:
    """The reader went away (e.g. `ganmc score ... | head`): stop quietly, as Unix tools do.
    Later writes (Python's flush at exit) go to /dev/null instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (e.g. captured)
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe stopped

