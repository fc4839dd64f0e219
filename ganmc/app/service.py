"""The use cases that the CLI and the dashboard both call: train, simulate, decide the
threshold, score, evaluate, build and write the report.

Each takes plain values and a detector, reports progress through a callback and stops when a
``threading.Event`` is set; none prints, draws a widget or touches a session. A front end turns its
widgets or flags into a :class:`ganmc.thresholds.decision.Choice`, asks
:func:`ganmc.thresholds.decision.decide` for the :class:`ganmc.thresholds.decision.Decision` once
per user action, and passes that on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.app.estimate import machine_speed, time_estimate
from ganmc.app.evaluation import evaluate, holdout_rates_by_digit
from ganmc.app.models import add_digit_gaussians, assess_model, calibrate_on, copy_model, refresh
from ganmc.core import files, locks, scorers
from ganmc.core.config import AUTO, DEFAULT_DRIFT_DELTA, DIGITS
from ganmc.core.errors import ConfigError, ModelError
from ganmc.core.naming import Names
from ganmc.model.detector import Detector, load_model
from ganmc.nets.tracker import TrainProgress
from ganmc.nets.train import checkpoint_dir
from ganmc.report import data as report_data
from ganmc.report.data import ReportData, ReportImage
from ganmc.scores import scoring
from ganmc.storage import bundle
from ganmc.thresholds.calibration import Threshold, false_alarm_rate
from ganmc.thresholds.decision import Choice, Decision
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.guarantees import BatchFdr, DriftAlarm, batch_fdr, ks_reading
from ganmc.thresholds.montecarlo import MonteCarloResult
from ganmc.thresholds.montecarlo import simulate as _simulate
from ganmc.thresholds.verdict import Verdict
from ganmc.thresholds.verdict import columns as verdict_columns

log = logging.getLogger(__name__)

__all__ = ["load_model", "train", "time_estimate", "assess_model",
           "simulate", "simulation_if_needed", "measure_simulation_speed",
           "simulation_summary", "score", "evaluate", "judge_images",
           "holdout_rates_by_digit", "calibrate_on", "copy_model", "add_digit_gaussians",
           "test_examples", "own_examples", "build_report", "report_time", "report_files",
           "write_report", "model_folder", "score_rows", "refresh",
           "export_model", "export_zip", "Guarantees", "guarantees", "monte_carlo_against_real"]


# ---------------------------------------------------------------------------- train
def train(out: Path | str, *, data: Any = "auto", digits: tuple[int, ...] | None = None,
          framing: str | None = None,
          progress: Callable[[TrainProgress], None] | None = None,
          stop_event: threading.Event | None = None, resume: bool = False,
          replace: bool = False, **settings: Any) -> Detector:
    """Load data, train, calibrate and save a model folder: the whole training job.

    Checkpoints go to :func:`ganmc.nets.train.checkpoint_dir` after every round and are removed once
    the model is saved; ``resume=True`` continues from them. The rule of
    :func:`bundle.check_target` is checked again under the folder's lock before any work,
    and what is at ``out`` once more just before the save: only a ganmc model is replaced,
    and only with ``replace`` (or ``resume``); anything else put there meanwhile is kept, and
    so is the checkpoint, from which ``resume`` then saves.

    Args:
        out: The model folder to write.
        data: A :func:`ganmc.images.data.load_mnist` source; or the user's own pictures: a folder or
            zip of them (:func:`ganmc.images.folders.read_source`), or what
            :mod:`ganmc.images.folders` read (a :class:`ganmc.images.folders.Found`).
        digits: The normal digits (``None``: all); MNIST only (a folder's classes are its
            ``normal/CLASS`` folders).
        framing: How the user's pictures are put into the 28x28 frame (``None``:
            ``digits``, or a ``Found``'s own); MNIST's digits are framed like digits.
        progress, stop_event: See :meth:`Detector.fit`.
        resume: Continue from the checkpoint of an interrupted run.
        replace: Replace a model saved at ``out``; the checkpoint of an interrupted run into
            it (without ``resume``) is kept aside (:func:`ganmc.core.locks.set_aside_path`).
        **settings: :class:`Detector` keyword arguments (arch, preset, steps, ...).

    Raises:
        ModelError: If the rule refuses ``out``, at the start or at the save.
        ConfigError: If ``digits`` come with the user's pictures, or ``framing`` with MNIST.
        DataError: If the data cannot be read, or the pictures cannot be trained on.
    """
    from ganmc.images import folders
    from ganmc.images.data import load_mnist

    out = Path(out)
    own = data if isinstance(data, folders.Found) else None
    if own is None and folders.is_own_images(data):
        Detector(**settings)  # bad settings fail here, before the pictures are read
        own = folders.read_source(data, framing or DIGITS)
    if own is not None:
        if digits is not None:
            raise ConfigError("digits choose among MNIST's digits; the normal classes of your "
                              "own pictures are their folders (normal/CLASS/)")
        if framing is not None and framing != own.framing:
            raise ConfigError(f"the pictures were read in the {own.framing} framing, not "
                              f"{framing}")
        own.check_trainable()
        det = Detector(**own.normal_settings(), **settings)
    else:
        if framing not in (None, DIGITS):
            raise ConfigError(f"MNIST's digits are framed like digits already; the "
                              f"{framing} framing is for your own pictures (a folder or zip)")
        det = Detector(digits=digits, **settings)  # bad settings fail here, before any work
    locks.check_writable(out.parent)
    with locks.folder_lock(out):  # a second writer of this folder is refused, not raced
        bundle.check_target(out, replace=replace, resume=resume, held=True)
        ckpt = checkpoint_dir(out)
        if not resume and ckpt.exists():
            _set_checkpoint_aside(out)
        speed = machine_speed()  # kept on the card: a later estimate scales its pace by it
        if own is not None:
            det.fit(own.x, own.labels, others=own.anomalies, data_source=own.stored_source,
                    framing=own.framing, own_images=True, progress=progress,
                    stop_event=stop_event, checkpoint=ckpt, resume=resume)
        else:
            splits = load_mnist(data, det.config.digits)
            # The test images of the other digits are free anomalies for the quality card.
            det.fit(splits.x_train, splits.y_train,
                    others=splits.x_test[~splits.test_is_normal], data_source=splits.source,
                    progress=progress, stop_event=stop_event, checkpoint=ckpt, resume=resume)
        det.metadata_["machine_speed"] = round(speed, 1)
        try:
            bundle.check_replaceable(out, replace=replace or resume)
            det.save(out)
        except ModelError as exc:
            raise ModelError(f"{exc}; the trained model is kept in its checkpoint: move what "
                             f"is at {out.name} out of the way and run the same training with "
                             f"--resume to save it") from None
        shutil.rmtree(ckpt, ignore_errors=True)
        locks.remove_lock_files(ckpt)
    return det


def _set_checkpoint_aside(out: Path) -> None:
    """Keep the checkpoint of an interrupted run into ``out`` aside (a run that replaces it
    starts afresh), in place of one kept aside before."""
    aside = locks.set_aside_path(out)
    if aside.exists():
        shutil.rmtree(aside)
    os.replace(checkpoint_dir(out), aside)
    log.info("the checkpoint of the interrupted run into %s is kept aside as %s", out.name,
             aside.name)


def model_folder(models_dir: Path | str, name: str, *, replace: bool = False,
                 resume: bool = False) -> Path:
    """The folder a model called ``name`` (made safe: :func:`bundle.safe_name`) is trained
    into, checked before any work starts (:func:`bundle.check_target`).

    Raises:
        ModelError: If the name is unusable, a model of that name exists (and ``replace`` is
            off), or ``resume`` finds no interrupted run to continue.
    """
    return bundle.check_target(Path(models_dir) / bundle.safe_name(name), replace=replace,
                               resume=resume)


# ---------------------------------------------------------------------------- simulate
def simulate(det: Detector, n_samples: int, *, seed: int = 0, scorer: str = AUTO,
             precision: str = "float32", batch_size: int | None = None,
             progress: Callable[[MonteCarloResult], None] | None = None,
             stop_event: threading.Event | None = None) -> MonteCarloResult:
    """A Monte Carlo run for one score, not stored in the detector (which stays shared).

    A set ``stop_event`` ends it after the current batch (``done`` is then False).
    """
    name = scorers.resolve(scorer, det.scorers_)
    # auto resolved here, so that the result records the precision it ran at
    return _simulate(det, n_samples, seed=seed, scorer=name,
                     precision=scoring.resolve_precision(precision),
                     batch_size=batch_size or scoring.default_batch_size(name),
                     progress=progress, stop_event=stop_event)


def simulation_summary(det: Detector, result: MonteCarloResult, level: Level) -> dict[str, Any]:
    """A run's threshold, interval, moments and reading, what its threshold does to the
    held-out real normal images (``false_alarm_rate_on_holdout``, None without them) and the
    Kolmogorov-Smirnov test of its scores against theirs (``ks``: figures and words, None
    without them; :func:`monte_carlo_against_real`). Each threshold is built once."""
    s = result.summary(level)
    holdout = det.holdout_scores_.get(result.scorer)
    s["holdout_n"] = 0 if holdout is None else len(holdout)
    s["false_alarm_rate_on_holdout"] = s["holdout_threshold"] = s["ks"] = None
    if holdout is not None:
        h = det.calibration_of(result.scorer, "holdout", level=level)
        ks = monte_carlo_against_real(det, result, level, s["threshold"], h)
        s["false_alarm_rate_on_holdout"] = ks.false_alarm_rate
        s["holdout_threshold"] = h.value
        s["ks"] = ks.summary()
    return s


def monte_carlo_against_real(det: Detector, result: MonteCarloResult, level: Level,
                             threshold: float | None = None, holdout: Threshold | None = None):
    """The two-sample Kolmogorov-Smirnov test of a run's generated scores against the model's
    held-out real normal images' (:class:`ganmc.thresholds.guarantees.KsReading`: whether they
    differ, and in words what that makes of the percentile, with the false-alarm rate the run's
    threshold has on the real ones); None without held-out images of the score. ``threshold`` (the
    run's at the level) and ``holdout`` (the holdout threshold) are taken when the caller has them
    already."""
    scores = det.holdout_scores_.get(result.scorer)
    if scores is None:
        return None
    h = holdout if holdout is not None else det.calibration_of(result.scorer, "holdout",
                                                                level=level)
    t = threshold if threshold is not None else result.threshold(level)
    return ks_reading(result.distribution, scores, alpha=level.alpha,
                      false_alarm_rate=false_alarm_rate(t, h.distribution))


def simulation_if_needed(det: Detector, choice: Choice, n_samples: int, *, seed: int = 0,
                         progress: Callable[[MonteCarloResult], None] | None = None
                         ) -> tuple[MonteCarloResult | None, str | None]:
    """A fresh run when the choice asks for Monte Carlo explicitly, or when ``auto`` finds no
    scores at all; with a note saying why it was run (None when none was needed)."""
    scorer = scorers.resolve(choice.scorer, det.scorers_)
    if choice.source == "monte-carlo":
        why = f"simulated {n_samples:,} generated images for the Monte Carlo threshold"
    elif (choice.source == AUTO and scorer not in det.holdout_scores_
          and scorer not in det.monte_carlo_):
        why = (f"the model has neither held-out scores nor a stored simulation of {scorer}: "
               f"simulated {n_samples:,} generated images for the threshold")
    else:
        return None, None
    return simulate(det, n_samples, seed=seed, scorer=scorer, progress=progress), why


def measure_simulation_speed(det: Detector, *, scorer: str = AUTO,
                             precision: str = "float32") -> float:
    """Samples/s of the model's Monte Carlo sampler on this machine now: one batch to compile
    and warm it, then one timed batch of the size a run uses (a quarter of it for the slow
    latent-search score, warmed by a small batch). For an estimate before a run; the speed
    stored with a model was measured on another day, maybe on another machine."""
    import time

    name = scorers.resolve(scorer, det.scorers_)
    resolved = scoring.resolve_precision(precision)
    n = scoring.default_batch_size(name)
    n = n if scorers.REGISTRY[name].one_pass else max(1, n // 4)
    # The warm-up is of the timed batch's size for the one-pass scores: XLA compiles the
    # bfloat16 copies' dense layers once per batch shape (networks.BFloat16Dense).
    det.sample_scores(n if scorers.REGISTRY[name].one_pass else min(n, 64), 0, 0, name, resolved)
    start = time.perf_counter()
    det.sample_scores(n, 0, 1, name, resolved)
    return n / max(time.perf_counter() - start, 1e-9)


# ---------------------------------------------------------------------------- score
def score(det: Detector, x: np.ndarray, decision: Decision) -> list[Verdict]:
    """Verdicts for images at a decision's threshold (the drift alarm is
    :func:`guarantees`': front ends call it on these verdicts)."""
    return det.verdicts(x, scorer=decision.scorer, threshold=decision.threshold,
                        check_drift=False)


@dataclass(frozen=True)
class Guarantees:
    """What a batch or session of verdicts says about the threshold's promises.

    Attributes:
        drift: The drift alarm over the verdicts, in order (None: the model has no held-out
            images of the score to compare with).
        fdr: Benjamini-Hochberg over their p-values against the held-out normal images, at
            the rate asked for (None when none was asked for, there are no verdicts, or the
            model has no held-out images of the score: ``notes`` says so).
        notes: What could not be checked, and why.
    """

    drift: DriftAlarm | None
    fdr: BatchFdr | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"drift": None if self.drift is None else self.drift.summary(),
                "fdr": None if self.fdr is None else self.fdr.summary(),
                "notes": list(self.notes)}


def guarantees(det: Detector, decision: Decision, verdicts: list[Verdict], *,
               fdr: float | None = None, drift_delta: float = DEFAULT_DRIFT_DELTA
               ) -> Guarantees:
    """The drift alarm over verdicts (a stream in the order given: a batch's files, a
    session's images) and, with ``fdr``, Benjamini-Hochberg over their conformal p-values
    against all the model's held-out normal images (the finest p-values it has: a digit's own
    few hundred would leave BH almost nothing to flag; :mod:`ganmc.thresholds.guarantees`). Computed
    from the verdicts alone: nothing is scored again."""
    drift = det.drift_of(verdicts, decision.scorer, decision.threshold, drift_delta) \
        if verdicts else None
    notes = [] if drift is not None or not verdicts else [
        f"no drift check: the model has no real normal images set aside for the "
        f"{decision.scorer} score to compare with"]
    batch = None
    if fdr is not None and verdicts:
        held = det.holdout_scores_.get(decision.scorer)
        if held is None:
            notes.append(f"no false discovery rate: the model has no real normal images set "
                         f"aside for the {decision.scorer} score")
        else:
            pooled = det.calibration_of(decision.scorer, "holdout", level=decision.level)
            scores = np.array([v.score for v in verdicts])
            batch = batch_fdr(pooled.p_values(scores), fdr,
                              np.array([v.is_anomaly for v in verdicts]), decision.level.alpha,
                              pooled.distribution.n)
    return Guarantees(drift, batch, tuple(notes))


def score_rows(sources: list[str], indices: list[int], verdicts: list[Verdict],
               fdr: BatchFdr | None = None, names: Names | None = None
               ) -> list[dict[str, Any]]:
    """One row per image: ``source,index,score,p_value,threshold,digit,verdict,reason``: the
    threshold its verdict used, the digit it is taken for (empty for a model that takes
    images for no digit) and why an anomaly was flagged (empty where the score gives no
    reason); with ``fdr``, ``fdr_verdict`` too: anomaly for the images Benjamini-Hochberg
    flags at its rate. For a model of named classes (``names``) the digit column is ``class``
    and holds the class's name."""
    rows = [{"source": src, "index": idx, **verdict_columns(v, names)}
            for src, idx, v in zip(sources, indices, verdicts)]
    if fdr is not None:
        for row, flagged in zip(rows, fdr.flagged):
            row["fdr_verdict"] = "anomaly" if flagged else "normal"
    return rows


def image_rows(names: list[str], verdicts: list[Verdict], fdr: BatchFdr | None = None,
               classes: Names | None = None) -> list[dict[str, Any]]:
    """The Detect page's CSV: one row per named image, ``name`` and then the columns of
    :func:`score_rows` (the report's CSV has the same ones after its ``kind,name,note``)."""
    return [{"name": row.pop("source"), **{k: v for k, v in row.items() if k != "index"}}
            for row in score_rows(names, list(range(len(names))), verdicts, fdr, classes)]


# ---------------------------------------------------------------------------- report
def judge_images(det: Detector, decision: Decision, names: list[str], x: np.ndarray,
                 notes: list[str] | None = None, reconstruct: int | None = None
                 ) -> list[ReportImage]:
    """Verdicts and, where the score has them, reconstructions of named images (of the
    first ``reconstruct`` only, when given: what a report draws)."""
    if len(x) == 0:
        return []
    verdicts = score(det, x, decision)
    shown = len(x) if reconstruct is None else min(reconstruct, len(x))
    recons = (list(det.reconstruct(x[:shown], scorer=decision.scorer))
              if shown and det.can_reconstruct(decision.scorer) else [])
    recons += [None] * (len(x) - len(recons))
    notes = notes or [""] * len(x)
    return [ReportImage(n, img, v, r, note)
            for n, img, v, r, note in zip(names, x, verdicts, recons, notes)]


def test_examples(det: Detector, decision: Decision, limit: int = 1000) -> list[ReportImage]:
    """A typical normal and the most anomalous digit of the bundled digits' fixed test split
    (always offline); for a model of all ten digits, where no test digit is an anomaly, the
    second is the least typical one and is called so. A model of the user's own pictures
    shows its own (:attr:`Detector.examples_`): the typical and the least typical of its
    held-out normal pictures, or the most anomalous of its anomaly folder's; none when it
    kept none."""
    from ganmc.images.data import load_mnist

    if det.own_images:
        return own_examples(det, decision)

    splits = load_mnist("bundled", det.config.digits)
    x, y = splits.x_test[:limit], splits.y_test[:limit]
    i_normal, i_anom, anomalous = report_data.example_indices(
        det.score_samples(x, scorer=decision.scorer), y, det.config.digits)
    odd = "anomalous test image" if anomalous else "least typical test image"
    return judge_images(det, decision, ["normal test image", odd],
                        x[[i_normal, i_anom]],
                        notes=[f"true digit {y[i_normal]}", f"true digit {y[i_anom]}"])


def own_examples(det: Detector, decision: Decision) -> list[ReportImage]:
    """:func:`test_examples` for a model of the user's own pictures."""
    normal, anomalous = det.examples_.get("normal"), det.examples_.get("anomaly")
    if normal is None or not len(normal):
        return []
    s = det.score_samples(normal, scorer=decision.scorer)
    typical = int(np.argsort(s, kind="stable")[len(s) // 2])
    if anomalous is not None and len(anomalous):
        odd = anomalous[int(np.argmax(det.score_samples(anomalous, scorer=decision.scorer)))]
        second = ("anomalous picture", odd, "from the anomaly folder")
    else:
        second = ("least typical held-out picture", normal[int(np.argmax(s))],
                  "a normal picture never trained on")
    return judge_images(det, decision, ["normal held-out picture", second[0]],
                        np.stack([normal[typical], second[1]]),
                        notes=["a normal picture never trained on", second[2]])


def build_report(det: Detector, decision: Decision, *,
                 monte_carlo: MonteCarloResult | None = None,
                 images: list[tuple[str, np.ndarray]] | None = None,
                 examples: list[ReportImage] | None = None) -> ReportData:
    """Everything a report shows, for a decision (``examples`` None: the test examples)."""
    mc = monte_carlo if monte_carlo is not None else det.monte_carlo_.get(decision.scorer)
    images = images or []
    x = np.stack([img for _, img in images]) if images else np.zeros((0, 28, 28), np.uint8)
    far = ks = None
    if mc is not None and decision.scorer in det.holdout_scores_:
        ks = monte_carlo_against_real(det, mc, decision.level)
        far = ks.false_alarm_rate
    judged = judge_images(det, decision, [n for n, _ in images], x,
                          reconstruct=report_data.MAX_REPORT_IMAGES)
    checks = guarantees(det, decision, [im.verdict for im in judged],
                        fdr=decision.level.alpha if len(judged) >= 2 else None)
    return ReportData(
        det.card(), decision.scorer, decision.threshold, mc, far,
        test_examples(det, decision) if examples is None else examples,
        judged, report_time(),
        list(det.notes_) + list(decision.notes), holdout_rates_by_digit(det, decision),
        drift=checks.drift, fdr=checks.fdr, ks=ks)


def report_time() -> str:
    """A report's ``created`` stamp: now, in UTC, to the minute."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def report_files(data: ReportData, suffixes: tuple[str, ...] = (".png", ".json", ".csv")
                 ) -> dict[str, bytes]:
    """The report as PNG, JSON and CSV bytes (those of ``suffixes``), by suffix."""
    import json

    from ganmc.report.render import report_png

    make = {".png": lambda: report_png(data),
            ".json": lambda: json.dumps(report_data.summary(data), indent=2).encode(),
            ".csv": lambda: files.table_bytes(report_data.rows(data))}
    return {suffix: make[suffix]() for suffix in suffixes}


def write_report(data: ReportData, out: Path | str) -> list[Path]:
    """Write ``out`` (PNG) with its ``.json`` and ``.csv`` beside it, each atomically."""
    out = Path(out)
    return [files.atomic_write_bytes(out.with_suffix(suffix), payload)
            for suffix, payload in report_files(data).items()]


# ---------------------------------------------------------------------------- export
def export_model(det: Detector, decision: Decision, fmt: str, out: Path | str, *,
                 replace: bool = False):
    """A decision's score and threshold as a folder that judges images without TensorFlow
    (:func:`ganmc.deploy.export.export`; returns its :class:`ganmc.deploy.export.Exported`)."""
    from ganmc.deploy import export

    return export.export(det, decision, fmt, out, replace=replace)


def export_zip(det: Detector, decision: Decision, fmt: str) -> tuple[str, bytes]:
    """The same folder as a zip file (the Report page's download): its name and bytes. The
    folder is made in a temporary folder, removed afterwards."""
    import tempfile

    from ganmc.deploy import export

    name = f"ganmc-{det.path_.name if det.path_ is not None else 'model'}-{decision.scorer}-{fmt}"
    with tempfile.TemporaryDirectory(prefix="ganmc-export-") as tmp:
        done = export.export(det, decision, fmt, Path(tmp) / name)
        return f"{name}.zip", export.zip_folder(done.folder)
