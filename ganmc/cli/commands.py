"""The ``ganmc`` commands: flags in, one :mod:`ganmc.app.service` call per step, text out. The
parser is in :mod:`ganmc.cli`, which imports this module only when one of these commands runs
(:func:`ganmc.cli.main`), so ``ganmc --help`` answers without loading TensorFlow; ``ganmc
info`` is in :mod:`ganmc.cli.info`, which needs no TensorFlow at all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ganmc.app import evaluation, service
from ganmc.cli.progressbar import ProgressBar
from ganmc.core import files, locks
from ganmc.core.config import DEFAULT_MC_SAMPLES, DIGITS, FRAMING_WORDS, parse_digits
from ganmc.core.errors import ConfigError, GanmcError
from ganmc.core.presets import TASKS, network_of
from ganmc.deploy import export
from ganmc.images import folders
from ganmc.images.inputs import read_inputs
from ganmc.nets.tracker import CALIBRATING, describe, eta_text, quality_text
from ganmc.nets.train import checkpoint_dir, read_checkpoint
from ganmc.report.render import REPORT_SIZE, histogram_png
from ganmc.storage import bundle
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.distribution import Level, percent
from ganmc.thresholds.guarantees import WAY_OUT
from ganmc.thresholds.quality import card_lines
from ganmc.thresholds.ranks import pac_words


def say(text: str) -> None:
    print(text, file=sys.stderr)


# ---------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    own = folders.is_own_images(args.data)
    if own and args.digits is not None:
        raise ConfigError("--digits chooses among MNIST's digits; the normal classes of your "
                          "own pictures are their folders (normal/CLASS/)")
    if not own and (args.framing not in (None, DIGITS) or args.preview or args.dry_run):
        what = "--framing" if args.framing not in (None, DIGITS) else (
            "--preview" if args.preview else "--dry-run")
        raise ConfigError(f"{what} is for your own pictures (--data FOLDER or ZIP); "
                          f"{args.data} is MNIST data, already framed like digits")
    digits = None if own else parse_digits(args.digits)
    arch = network_of(args.arch, args.preset)
    if own:
        try:
            name = bundle.safe_name(Path(args.data).resolve().stem)
        except GanmcError:
            name = "images"
        out = Path(args.out or f"models/{arch}-{name}")
    else:
        out = Path(args.out or f"models/{arch}-{''.join(map(str, digits))}")
    # before any work: no file, folder, checkpoint or model at --out is lost unasked
    if not args.dry_run:
        bundle.check_target(out, replace=args.replace, resume=args.resume)
    settings = dict(arch=args.arch, preset=args.preset, steps=args.steps,
                    encoder_steps=args.encoder_steps, epochs=args.epochs,
                    encoder_epochs=args.encoder_epochs, batch_size=args.batch_size,
                    latent_dim=args.latent_dim, kappa=args.kappa, seed=args.seed,
                    search_steps=args.search_steps,
                    feature_components=args.feature_components,
                    **{task: getattr(args, task) for task in TASKS},
                    mc_samples=args.mc_samples,
                    calibration_fraction=args.calibration_fraction)
    data, normal = args.data, {"digits": digits}  # what the model takes as normal
    if own:
        framing = args.framing or DIGITS
        reading = ProgressBar("read")
        found = folders.read_source(args.data, framing, progress=lambda i, n: reading.update(
            i / max(n, 1), f"{i:,}/{n:,} pictures", force=i == n))
        reading.close()
        print("\n".join(found.lines()))
        normal = found.normal_settings()
        if args.preview:
            files.atomic_write_bytes(args.preview, folders.preview_png(found))
            print(f"Wrote {args.preview}: the pictures as the model will see them")
        if args.dry_run:
            problems = found.problems()
            if not problems:
                _say_estimate(settings, normal, out)
            return 2 if problems else 0
        found.check_trainable()
        data = found
        say(f"Training {arch} on {len(found):,} pictures of {found.source} "
            f"({FRAMING_WORDS[framing]} framing"
            + (f", classes {', '.join(found.classes)}" if found.classes else "")
            + f"); writing {out}")
    else:
        say(f"Training {arch} on digits {','.join(map(str, digits))} from {args.data}; "
            f"writing {out}")
    if args.replace and not args.resume and checkpoint_dir(out).exists():
        say(f"note: the checkpoint of the interrupted run into {out.name} is kept aside as "
            f"{locks.set_aside_path(out)} (training starts afresh)")
    if args.resume:
        state = read_checkpoint(checkpoint_dir(out))
        say(f"No checkpoint in {checkpoint_dir(out)}: starting afresh" if state is None else
            f"Resuming from the checkpoint: {state['step']:,} "
            f"{'GAN' if state['phase'] == 'gan' else 'encoder'} steps done")
    bar = ProgressBar("train")

    def progress(p) -> None:
        bar.update(p.fraction, describe(p), force=p.round_end)
        if p.quality:
            bar.close()
            say(f"  at step {p.step:,}: {quality_text(p.quality)}")
        if p.round_end and p.fraction >= 1.0:
            bar.close()
            say(CALIBRATING)

    if not args.resume:  # a resumed run's ETA comes with its first progress line
        _say_estimate(settings, normal, out)
    started = time.perf_counter()
    try:
        det = service.train(out, data=data, digits=None if own else digits, progress=progress,
                            resume=args.resume, replace=args.replace, **settings)
    except KeyboardInterrupt:
        bar.close()
        say(f"interrupted; the last finished round is in {checkpoint_dir(out)}: run the same "
            f"command with --resume to go on")
        return 130
    bar.close()
    m = det.metadata_
    # The training's own time and speed (a resumed run's include the runs it resumes), and
    # the whole command's: reading the data, calibration, simulation and the quality card.
    print(f"Saved {out} ({m['device']}; training {m['train_seconds']:.1f} s at "
          f"{m['train_images_per_s']:,.0f} images/s; the whole command took "
          f"{time.perf_counter() - started:.1f} s)")
    _print_calibration(det)
    print("\n".join(card_lines(det.quality_, m.get("n_calibration"))))
    return 0


def _say_estimate(settings: dict, normal: dict, out: Path) -> None:
    """How long the training should take, before it starts (``normal``: the digits or the
    classes it learns)."""
    seconds, basis = service.time_estimate({**settings, **normal}, out.parent)
    say(f"Estimated time: {eta_text(seconds)} ({basis})")


def _print_calibration(det) -> None:
    """One line per score: its thresholds at the detector's level, from each source."""
    level = det.level()
    for name in det.scorers_:
        parts = [f"holdout threshold {det.calibration_of(name, 'holdout').value:.5g}"
                 f" (n={len(det.holdout_scores_[name]):,})"] if name in det.holdout_scores_ else []
        if name in det.monte_carlo_:
            r = det.monte_carlo_[name]
            parts.append(f"monte-carlo threshold {r.threshold(level):.5g} (n={r.n:,})")
        print(f"  scorer {name}: {'; '.join(parts) or 'no calibration'}")
    mc = det.monte_carlo_.get(det.scorer_)
    if mc is not None and det.scorer_ in det.holdout_scores_:
        far = service.simulation_summary(det, mc, level)["false_alarm_rate_on_holdout"]
        print(f"  On held-out normal images the Monte Carlo threshold ({det.scorer_}) flags "
              f"{evaluation.far_from_nominal(far, level)}; verdicts use the "
              f"{det.threshold_words()}.")


# ---------------------------------------------------------------------------- inputs
def _read(args: argparse.Namespace, paths, refused: list) -> object:
    """Read inputs in the framing of ``--model`` (its card's), keeping the good files; the
    refused ones are collected in ``refused`` (``--strict``: the first one stops the
    command)."""
    images = read_inputs(paths, strict=args.strict, framing=_framing(args))
    refused.extend(images.problems)
    return images


def _framing(args: argparse.Namespace) -> str:
    """The framing of ``--model`` (the pretrained model's when none), from its card alone
    (no TensorFlow): pictures are read so before the model loads."""
    return bundle.read_card(args.model or bundle.DEFAULT_MODEL).get("framing") or DIGITS


def _refusals(args: argparse.Namespace, refused: list) -> int:
    """Say each refused input on stderr (and in ``--errors``); status 2 if there was one."""
    for _, reason in refused:
        say(f"ganmc {args.command}: skipped: {reason}")
    if args.errors:
        files.write_table(args.errors, [{"source": src, "reason": reason}
                                        for src, reason in refused], ["source", "reason"])
    return 2 if refused else 0


# ---------------------------------------------------------------------------- model commands
def _model(args: argparse.Namespace):
    """Load ``--model`` and turn ``--scorer`` / ``--calibration`` / ``--percentile`` into a
    :class:`ganmc.Choice`, saying on stderr whatever the folder lacks."""
    det = service.load_model(args.model)
    for note in det.notes_:
        say(f"note: {note}")
    percentile = getattr(args, "percentile", None)
    confidence = getattr(args, "pac_confidence", None)
    choice = Choice(
        scorer=getattr(args, "scorer", None) or det.scorer,
        source=getattr(args, "calibration", None) or det.calibration,
        level=Level.from_percentile(percentile) if percentile is not None else det.level(),
        pac_delta=round(1.0 - confidence / 100.0, 12) if confidence is not None
        else det.pac_delta)
    return det, choice


def _decide(det, choice, args):
    """The decision, after a simulation if the choice needs one (said on stderr)."""
    bar = ProgressBar("simulate")
    mc, why = service.simulation_if_needed(det, choice, getattr(args, "samples",
                                                                DEFAULT_MC_SAMPLES),
                                           seed=getattr(args, "seed", 0),
                                           progress=bar.simulation)
    bar.close()
    if why:
        say(f"note: {why}")
    return decide(det, choice, mc), mc


def cmd_simulate(args: argparse.Namespace) -> int:
    det, choice = _model(args)
    level = Level.from_percentile(args.percentile)
    bar = ProgressBar("simulate")
    result = service.simulate(det, args.samples, seed=args.seed, scorer=choice.scorer,
                              precision=args.precision, batch_size=args.batch_size,
                              progress=bar.simulation)
    bar.close()
    s = service.simulation_summary(det, result, level)
    lo, hi = s["threshold_ci95"]
    print(f"Monte Carlo over {s['samples']:,} generated images (scorer {s['scorer']}, "
          f"seed {s['seed']}, {s['precision']}, {s['seconds']:.1f} s, "
          f"{s['samples_per_s']:,.0f} samples/s)")
    print(f"  threshold ({level.percentile:g}th percentile): {s['threshold']:.6g}  "
          f"(95% CI {lo:.6g} - {hi:.6g})")
    print(f"  mean {s['mean']:.6g}  std {s['std']:.6g}  min {s['min']:.6g}  max {s['max']:.6g}")
    if s["false_alarm_rate_on_holdout"] is not None:
        print(f"  on {s['holdout_n']:,} held-out real normal images this threshold flags "
              f"{evaluation.far_from_nominal(s['false_alarm_rate_on_holdout'], level)}")
    print("  " + s["interpretation"])
    if s["ks"] is not None:
        print("  Monte Carlo against real: " + s["ks"]["words"])
    if args.out:
        out = Path(args.out)
        files.atomic_write_bytes(out / "histogram.png", histogram_png(
            result.distribution, s["threshold"],
            title=f"Monte Carlo scores of {s['samples']:,} generated images"))
        edges, counts = result.distribution.histogram(100)
        files.write_table(out / "histogram.csv", [
            {"bin_start": float(a), "bin_end": float(b), "count": int(c)}
            for a, b, c in zip(edges[:-1], edges[1:], counts)])
        files.write_json_file(out / "summary.json", s)
        print(f"Wrote {out / 'histogram.png'}, histogram.csv and summary.json")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    refused: list = []
    images = _read(args, args.inputs, refused)
    det, choice = _model(args)
    decision, _ = _decide(det, choice, args)
    verdicts = service.score(det, images.x, decision)
    checks = service.guarantees(det, decision, verdicts, fdr=args.fdr)
    rows = service.score_rows(images.sources, images.indices, verdicts, checks.fdr,
                              det.names)
    if args.out:
        files.write_table(args.out, rows)
        n_anom = sum(v.is_anomaly for v in verdicts)
        say(f"Scored {len(rows):,} images: {n_anom:,} anomalies, {len(rows) - n_anom:,} normal "
            f"({decision.threshold.describe(det.config.digits, det.names)}); "
            f"wrote {args.out}")
    else:
        sys.stdout.write(files.table_bytes(rows).decode())
        sys.stdout.flush()
    _say_guarantees(args, checks)
    return _refusals(args, refused)


def _say_guarantees(args: argparse.Namespace, checks) -> None:
    """The drift alarm (a warning when it went off, with the way out) and the batch's false
    discovery rate, on stderr."""
    drift = checks.drift
    if drift is not None and drift.fired:
        if args.model:
            how = (f"ganmc calibrate --model {args.model} YOUR_NORMAL_IMAGES --name \"my pen\" "
                   f"(it recalibrates that model folder in place)")
        else:
            how = ("copy the shipped model's folder (assets/model) to models/mine, then ganmc "
                   "calibrate --model models/mine YOUR_NORMAL_IMAGES --name \"my pen\"")
        say(f"ganmc {args.command}: warning: {drift.words()} {WAY_OUT} For example: {how}.")
    elif drift is not None:
        say(f"drift check: {drift.details()}")
    if checks.fdr is not None:
        say(checks.fdr.words())
    for note in checks.notes:
        say(f"note: {note}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    refused: list = []
    normal, anomalous = _read(args, args.normal, refused), _read(args, args.anomalous, refused)
    det, choice = _model(args)
    decision, _ = _decide(det, choice, args)
    r = service.evaluate(det, normal.x, anomalous.x, decision)
    print(f"{r['n_normal']:,} normal vs {r['n_anomalous']:,} anomalous images "
          f"(scorer {r['scorer']}, calibration {r['calibration']})")
    print(f"  AUROC {r['auroc']:.4f}   average precision {r['average_precision']:.4f}")
    print(f"  at the {r['threshold_words']} (nominal false-alarm rate "
          f"{percent(r['alpha'], 'g')}): false alarms {percent(r['false_alarm_rate'], '.1f')}, "
          f"detections {percent(r['detection_rate'], '.1f')}")
    names = det.names
    if r["by_digit"]:
        print(f"  false alarms by the {names.noun} each normal image was taken for: "
              + ", ".join(f"{names.name(d)}: {percent(v['false_alarm_rate'], '.1f')} of {v['n']}"
                          for d, v in r["by_digit"].items()))
    if r["holdout_by_digit"]:
        print(f"  held-out set, by {names.noun}: " + ", ".join(
            f"{names.name(d)}: {v['n']} images"
            + (f", {percent(v['false_alarm_rate'], '.1f')} above"
               if v["false_alarm_rate"] is not None else "")
            + (" (pooled threshold: too few)" if v["pooled"] and r["calibration"] == "per-digit"
               else "")
            for d, v in r["holdout_by_digit"].items()))
    if args.json:  # keyed by the digit, or by the class's name
        files.write_json_file(args.json, {**r, "by_digit": {names.name(k): v for k, v in
                                                           r["by_digit"].items()},
                                          "holdout_by_digit": {names.name(k): v for k, v in
                                                               r["holdout_by_digit"].items()}})
    return _refusals(args, refused)


def cmd_calibrate(args: argparse.Namespace) -> int:
    refused: list = []
    images = _read(args, args.inputs, refused)
    bar = ProgressBar("calibrate")
    det, bands = service.calibrate_on(args.model, images.x, name=args.name,
                                      sources=images.sources, latent_search=args.latent_search,
                                      progress=bar.counted)
    bar.close()
    for note in det.notes_:
        say(f"note: {note}" + (" (--latent-search calibrates it too, about a hundred times "
                               "slower)" if note.startswith("latent-search") else ""))
    lo, hi = bands["all"]["band"]
    print(f"Calibrated {args.model} on {len(images.x):,} images as {args.name!r}: "
          f"{det.threshold_words()} ({det.scorer_})")
    print(f"  with {len(images.x):,} images the false-alarm rate at a nominal "
          f"{percent(det.alpha, 'g')} lands between {percent(lo, '.1f')} and "
          f"{percent(hi, '.1f')} on further images of the same kind (5-95 %)")
    print("  " + pac_words(len(images.x), det.level(), det.pac_delta))
    for d, b in bands.items():
        if d != "all" and b["n"]:
            lo, hi = b["band"]
            print(f"  {det.names.noun} {det.names.name(d)}: {b['n']} images, band "
                  + (f"{100 * lo:.1f}-{percent(hi, '.1f')}" if hi else "none (too few: it uses "
                     "the pooled threshold)"))
    return _refusals(args, refused)


def cmd_add_digits(args: argparse.Namespace) -> int:
    det = service.add_digit_gaussians(args.model, data=args.data, progress=say)
    print(f"Added per-digit Gaussians to {args.model}: auto score {det.scorer_}, "
          f"{det.threshold_words()}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    det = service.refresh(args.model, data=args.data, progress=say)
    print(f"Refreshed {args.model}: scores {', '.join(det.scorers_)}; auto score "
          f"{det.scorer_}, {det.threshold_words()}")
    print("\n".join(card_lines(det.quality_)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    refused: list = []
    images = _read(args, args.images, refused) if args.images else None
    det, choice = _model(args)
    mc = None
    if args.samples:
        bar = ProgressBar("simulate")
        mc = service.simulate(det, args.samples, seed=args.seed, scorer=choice.scorer,
                              progress=bar.simulation)
        bar.close()
    decision = decide(det, choice, mc)
    named = [(Path(s).name + (f"[{i}]" if i else ""), x)
             for s, i, x in zip(images.sources, images.indices, images.x)] if images else []
    data = service.build_report(det, decision, monte_carlo=mc, images=named)
    written = service.write_report(data, args.out)
    print(f"Wrote {written[0]} ({REPORT_SIZE[0]}x{REPORT_SIZE[1]}), {written[1]} and "
          f"{written[2]}")
    return _refusals(args, refused)


def cmd_assess(args: argparse.Namespace) -> int:
    det = service.assess_model(args.model or bundle.DEFAULT_MODEL, data=args.data,
                               handwriting=args.handwriting)
    print(f"Saved the quality card in {det.path_}")
    print("\n".join(card_lines(det.quality_)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    export.check_format(args.format)  # before the model loads: a typo costs nothing
    export.check_target(args.out, replace=args.replace)
    det, choice = _model(args)
    done = service.export_model(det, decide(det, choice), args.format, args.out,
                                replace=args.replace)
    print(f"Wrote {done.folder}: {done.summary()}")
    print(f"  judge images with: python {done.folder / 'predict.py'} IMAGES...")
    return 0


#: The commands by their name on the command line (``info`` is :mod:`ganmc.cli.info`'s).
COMMANDS = {"train": cmd_train, "simulate": cmd_simulate, "score": cmd_score,
            "evaluate": cmd_evaluate, "calibrate": cmd_calibrate, "add-digits": cmd_add_digits,
            "refresh": cmd_refresh, "report": cmd_report, "assess": cmd_assess,
            "export": cmd_export}
