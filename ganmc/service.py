"""The use cases that the CLI and the dashboard both call: train, simulate, decide the
threshold, score, evaluate, build and write the report.

Each takes plain values and a detector, reports progress through a callback and stops when a
``threading.Event`` is set; none prints, draws a widget or touches a session. A front end
turns its widgets or flags into a :class:`Choice`, asks :func:`decide` for the
:class:`Decision`, and passes that on.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc import bundle, files, locks, metrics, scoring
from ganmc.calibration import WHY_AUTO_SOURCE, Calibration, Level, false_alarm_rate
from ganmc.config import AUTO
from ganmc.detector import Detector, load_model
from ganmc.errors import GanmcError, ModelError
from ganmc.montecarlo import MonteCarloResult
from ganmc.montecarlo import simulate as _simulate
from ganmc.report import data as report_data
from ganmc.report.data import ReportData, ReportImage
from ganmc.train import TrainProgress, checkpoint_dir
from ganmc.verdict import Verdict

__all__ = ["Choice", "Decision", "load_model", "train", "time_estimate", "assess_model",
           "simulate", "decide",
           "simulation_if_needed", "decide_or_fall_back", "measure_simulation_speed",
           "simulation_summary", "score", "evaluate", "judge_images",
           "holdout_rates_by_digit", "calibrate_on", "copy_model", "add_digit_gaussians",
           "test_examples", "build_report", "report_time", "report_files", "write_report"]


@dataclass(frozen=True)
class Choice:
    """What the user asked for: a score, a threshold source and a level (``auto`` allowed)."""

    scorer: str = AUTO
    source: str = AUTO
    level: Level = Level()


@dataclass(frozen=True)
class Decision:
    """What a :class:`Choice` comes to for one model: the score, its calibration, the level,
    and in plain words what ``auto`` chose."""

    scorer: str
    calibration: Calibration
    level: Level
    notes: tuple[str, ...] = ()

    @property
    def threshold(self) -> float:
        return self.calibration.threshold(self.level.alpha)


# ---------------------------------------------------------------------------- train
def train(out: Path | str, *, data: str = "auto", digits: tuple[int, ...] | None = None,
          progress: Callable[[TrainProgress], None] | None = None,
          stop_event: threading.Event | None = None, resume: bool = False,
          **settings: Any) -> Detector:
    """Load data, train, calibrate and save a model folder: the whole training job.

    Checkpoints go to :func:`ganmc.train.checkpoint_dir` after every round and are removed once
    the model is saved; ``resume=True`` continues from them.

    Args:
        out: The model folder to write.
        data: A :func:`ganmc.data.load_mnist` source.
        digits: The normal digits (``None``: all).
        progress, stop_event: See :meth:`Detector.fit`.
        resume: Continue from the checkpoint of an interrupted run.
        **settings: :class:`Detector` keyword arguments (arch, preset, steps, ...).
    """
    from ganmc.data import load_mnist

    out = Path(out)
    det = Detector(digits=digits, **settings)  # bad settings fail here, before any work
    locks.check_writable(out.parent)
    with locks.folder_lock(out):  # a second writer of this folder is refused, not raced
        splits = load_mnist(data, det.config.digits)
        ckpt = checkpoint_dir(out)
        # The test images of the other digits are free anomalies for the quality card.
        det.fit(splits.x_train, splits.y_train, others=splits.x_test[~splits.test_is_normal],
                data_source=splits.source, progress=progress, stop_event=stop_event,
                checkpoint=ckpt, resume=resume)
        det.save(out)
        shutil.rmtree(ckpt, ignore_errors=True)
        locks.remove_lock_files(ckpt)
    return det


#: Seconds a run of one digit takes besides its steps (data, the Gaussian, calibration, the
#: simulations, the quality card) in :func:`time_estimate`: 23-26 s on the 2-core CPU
#: (``benchmarks.presets``: the wall time less the card's training time), for any preset;
#: and the seconds each further digit adds (its training and held-out images are scored and
#: calibrated too): ten digits took 70 s (``ganmc train --data bundled --preset quick``, 114.2
#: s wall, 44.4 s training; fifteenth session).
ESTIMATE_AFTER_TRAINING_S = 25.0
ESTIMATE_AFTER_TRAINING_S_PER_DIGIT = 5.0
#: The fewest GAN steps a saved model must have run for its training speed to be the basis of
#: an estimate (a run stopped after a few steps timed mostly the compilation).
ESTIMATE_MIN_STEPS = 100


def time_estimate(settings: dict[str, Any], models_dir: Path | str | None = None
                  ) -> tuple[float, str]:
    """Seconds a training run with these :class:`Detector` settings should take on this
    machine before it starts, and what the figure rests on: the training speed of the latest
    model in ``models_dir`` trained the same way (network, batch size, device, which of D's
    extra tasks), else the presets' measured times on a 2-core CPU, scaled for the network and
    the extra tasks (``config.TASKS``). Once training runs, its progress reports give the ETA
    from the steps so far.
    """
    from ganmc.config import PRESETS, RELATIVE_TRAIN_SPEED, TASKS, TrainConfig
    from ganmc.train import describe_device

    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig(**{k: v for k, v in settings.items() if k in fields})
    n = 700 * len(config.digits)  # about the training images of these digits in the bundle
    steps = config.gan_steps(n) + (config.encoder_steps_for(n) if config.has_encoder else 0)
    preset = PRESETS.get(config.preset)
    overhead = (ESTIMATE_AFTER_TRAINING_S
                + ESTIMATE_AFTER_TRAINING_S_PER_DIGIT * (len(config.digits) - 1))
    rate, basis = None, ""
    if models_dir is not None:
        device = describe_device()
        for card in sorted(_cards(Path(models_dir)), key=lambda c: str(
                c.get("metadata", {}).get("trained_at", "")), reverse=True):
            m, c = card.get("metadata", {}), card.get("config", {})
            if (c.get("arch") == config.arch and m.get("batch_size") == config.batch_size
                    and m.get("device") == device and m.get("train_images_per_s")
                    and (m.get("gan_steps_done") or 0) >= ESTIMATE_MIN_STEPS
                    and all(bool(c.get(t)) == bool(getattr(config, t))
                            for t in TASKS)):
                rate = float(m["train_images_per_s"]) / config.batch_size
                basis = f"from the training speed of {card['_name']} on this machine"
                break
    if rate is None and preset is not None:
        base = preset.steps + preset.encoder_steps
        # the presets' minutes are for one digit; no extra task
        rate = base / max(preset.minutes_2core * 60 - ESTIMATE_AFTER_TRAINING_S, 1.0)
        rate *= RELATIVE_TRAIN_SPEED[config.arch] / RELATIVE_TRAIN_SPEED[preset.arch]
        rate /= config.slowdown
        basis = "from the presets' times on a 2-core CPU (a GPU is faster)"
    if rate is None:
        return float("nan"), "no estimate yet"
    return steps / rate + overhead, basis


def _cards(models_dir: Path) -> list[dict[str, Any]]:
    cards = []
    for folder in sorted(models_dir.glob("*"))[:200]:
        try:
            cards.append({**bundle.read_card(folder), "_name": folder.name})
        except Exception:  # a folder that is no model: not a basis for an estimate
            continue
    return cards


def assess_model(path: Path | str, *, data: str | None = None) -> Detector:
    """Measure a saved model's quality card again and save it in its folder.

    The held-out images are found again from the data the card names (or ``data``), the
    model's seed and hold-out share; they must score exactly as the model's calibration
    scores did, or nothing is written.

    Raises:
        ModelError: If the data does not give back the model's held-out images.
    """
    path = Path(path)
    with locks.folder_lock(path):
        det = load_model(path)
        splits, _, i_held = _own_split(det, path, data)
        holdout = splits.x_train[i_held]
        kept = det.holdout_scores_.get(det.scorer_)
        if kept is None or len(kept) != len(holdout) or not np.allclose(
                np.sort(det.score_samples(holdout)), kept, rtol=1e-4, atol=1e-6):
            raise ModelError(f"{path}: the data ({splits.source}) does not give back this "
                             f"model's held-out images; name the data it was trained on "
                             f"with --data")
        det.assess(holdout, splits.x_test[~splits.test_is_normal])
        bundle.update_card(path, quality=det.quality_)  # networks and arrays stay as they are
    return det


def model_folder(models_dir: Path | str, name: str, *, replace: bool = False,
                 resume: bool = False) -> Path:
    """The folder a model called ``name`` is trained into, checked before any work starts.

    Raises:
        ModelError: If the name is unusable, a model of that name exists (and ``replace`` is
            off), or ``resume`` finds no interrupted run to continue.
    """
    folder = Path(models_dir) / bundle.safe_name(name)
    use = bundle.folder_use(folder)
    if resume:
        if not checkpoint_dir(folder).exists():
            raise ModelError(f"there is no interrupted run of {folder.name} to continue")
    elif use is not None and not (replace and use.endswith("a saved model has this name")):
        raise ModelError(use + ("" if replace else "; replace it or choose another name"))
    if locks.is_locked(folder):
        raise ModelError(f"{folder.name}: a training run or a save is writing this model now")
    return folder


def _own_split(det: Detector, path: Path, data: str | None):
    """The data a saved model was trained on (the card's source, or ``data``) split as its
    training run split it: (splits, training indices, held-out indices).

    Raises:
        ModelError: If the split's sizes are not the card's.
    """
    from ganmc.data import holdout_indices, load_mnist

    source = data or det.metadata_.get("data_source") or "bundled"
    splits = load_mnist(source, det.config.digits)
    i_train, i_held = holdout_indices(len(splits.x_train), det.config.calibration_fraction,
                                      det.config.seed)
    n_train, n_held = det.metadata_.get("n_train"), det.metadata_.get("n_calibration")
    if (n_train, n_held) != (len(i_train), len(i_held)):
        raise ModelError(f"{path.name}: {source} does not give back this model's images: "
                         f"{len(i_train):,} training and {len(i_held):,} held-out digits, the "
                         f"card says {n_train} and {n_held}; name the model's data with --data")
    return splits, i_train, i_held


def add_digit_gaussians(path: Path | str, *, data: str | None = None,
                        progress: Callable[[str], None] | None = None) -> Detector:
    """Give a saved model of several digits its per-digit Gaussians and ``per-digit``
    threshold, from its own training data: the card's data source (or ``data``), digits,
    seed and hold-out share give back the same training and held-out images, now with labels.

    The Gaussian is refitted per digit, the held-out images are scored again (every score, so
    that each score's held-out images have their digits; the other one-pass scores' values
    come out as before, checked; ``latent-search``'s move in the last digits, its search being
    sensitive to rounding) and the Monte Carlo runs of the scores that read the Gaussian
    (``scoring.GAUSSIAN``), if stored, are re-run at their size and seed. Nothing else
    changes. The folder is rewritten atomically under its lock.

    Raises:
        ModelError: If the model is of one digit, or its data do not give back its images.
    """
    from ganmc.density import fit_density

    say = progress or (lambda _: None)
    path = Path(path)
    det = load_model(path)
    if len(det.config.digits) < 2:
        raise ModelError(f"{path.name}: a model of one digit has nothing to tell apart; its "
                         f"Gaussian stays as it is")
    with locks.folder_lock(path):
        splits, i_train, i_held = _own_split(det, path, data)
        say(f"fitting per-digit Gaussians on {len(i_train):,} training digits")
        old_holdout = dict(det.holdout_scores_)
        det.networks_.density = fit_density(
            det.networks_, splits.x_train[i_train], det.config.feature_components,
            splits.y_train[i_train], det.config.digit_shrinkage)
        det._attach(det.networks_)
        say(f"scoring the {len(i_held):,} held-out digits")
        det.calibrate(splits.x_train[i_held])
        for name, before in old_holdout.items():
            scale = float(np.abs(before).max()) or 1.0  # batch sizes move the last digits
            same = np.allclose(before, det.holdout_scores_[name], rtol=1e-4,
                               atol=1e-4 * scale)
            if name in scoring.ONE_PASS and name not in scoring.GAUSSIAN and not same:
                raise ModelError(f"{path.name}: the held-out digits score differently under "
                                 f"{name} than when the model was saved, so they are not its "
                                 f"held-out digits; name the model's data with --data")
        for name in scoring.GAUSSIAN:
            old = det.monte_carlo_.pop(name, None)
            if old is not None and name in det.scorers_:
                say(f"simulating {old.n:,} generated images for {name} (seed {old.seed})")
                det.run_monte_carlo(old.n, seed=old.seed, scorer=name)
        det.metadata_ = {**det.metadata_, "digit_labels": True}
        det.notes_ = []
        det._resolve()
        det.save(path)
    return det


# ---------------------------------------------------------------------------- simulate
def simulate(det: Detector, n_samples: int, *, seed: int = 0, scorer: str = AUTO,
             precision: str = "float32", batch_size: int | None = None,
             progress: Callable[[MonteCarloResult], None] | None = None,
             stop_event: threading.Event | None = None) -> MonteCarloResult:
    """A Monte Carlo run for one score, not stored in the detector (which stays shared).

    A set ``stop_event`` ends it after the current batch (``done`` is then False).
    """
    name = scoring.resolve_scorer(scorer, det.scorers_)
    # auto resolved here, so that the result records the precision it ran at
    return _simulate(det, n_samples, seed=seed, scorer=name,
                     precision=scoring.resolve_precision(precision),
                     batch_size=batch_size or scoring.default_batch_size(name),
                     progress=progress, stop_event=stop_event)


def simulation_summary(det: Detector, result: MonteCarloResult, level: Level) -> dict[str, Any]:
    """A run's threshold, interval, moments and reading, and what its threshold does to the
    held-out real normal images (``false_alarm_rate_on_holdout``, None without them)."""
    s = result.summary(level.percentile)
    holdout = det.holdout_scores_.get(result.scorer)
    s["holdout_n"] = 0 if holdout is None else len(holdout)
    s["false_alarm_rate_on_holdout"] = s["holdout_threshold"] = None
    if holdout is not None:
        h = det.calibration_of(result.scorer, "holdout")
        s["false_alarm_rate_on_holdout"] = false_alarm_rate(s["threshold"], h.distribution)
        s["holdout_threshold"] = h.threshold(level.alpha)
    return s


def far_from_nominal(rate: float, level: Level) -> str:
    """How far a measured false-alarm rate is from the nominal one, in one consistent way."""
    gap = 100 * (rate - level.alpha)
    word = "above" if gap > 0 else "below"
    return (f"{100 * rate:.1f}% against the nominal {100 * level.alpha:.3g}% "
            f"({abs(gap):.1f} points {word})")


# ---------------------------------------------------------------------------- decide
def decide(det: Detector, choice: Choice, monte_carlo: MonteCarloResult | None = None
           ) -> Decision:
    """The one place a front end's choice becomes a score and a threshold for a model.

    ``monte_carlo`` is a run of the front end's own (e.g. the session's latest) used instead
    of the model's stored one. Nothing is simulated here.

    Raises:
        ConfigError: If the score is not in this model or the source has no scores.
    """
    scorer = scoring.resolve_scorer(choice.scorer, det.scorers_)
    usable = monte_carlo if monte_carlo is not None and monte_carlo.scorer == scorer else None
    calibration = det.calibration_of(scorer, choice.source, usable)
    notes = []
    if choice.scorer == AUTO:
        notes.append("score auto → " + scoring.why_auto(det.scorers_, det.config.digits))
    if choice.source == AUTO:
        notes.append(f"threshold auto → {calibration.source}: "
                     f"{WHY_AUTO_SOURCE[calibration.source]}")
    return Decision(scorer, calibration, choice.level, tuple(notes))


def simulation_if_needed(det: Detector, choice: Choice, n_samples: int, *, seed: int = 0,
                         progress: Callable[[MonteCarloResult], None] | None = None
                         ) -> tuple[MonteCarloResult | None, str | None]:
    """A fresh run when the choice asks for Monte Carlo explicitly, or when ``auto`` finds no
    scores at all; with a note saying why it was run (None when none was needed)."""
    scorer = scoring.resolve_scorer(choice.scorer, det.scorers_)
    if choice.source == "monte-carlo":
        why = f"simulated {n_samples:,} generated images for the Monte Carlo threshold"
    elif (choice.source == AUTO and scorer not in det.holdout_scores_
          and scorer not in det.monte_carlo_):
        why = (f"the model has neither held-out scores nor a stored simulation of {scorer}: "
               f"simulated {n_samples:,} generated images for the threshold")
    else:
        return None, None
    return simulate(det, n_samples, seed=seed, scorer=scorer, progress=progress), why


def decide_or_fall_back(det: Detector, choice: Choice,
                        monte_carlo: MonteCarloResult | None = None
                        ) -> tuple[Decision, MonteCarloResult | None, str | None]:
    """The decision, the Monte Carlo run that goes with it, and what was put in place of the
    choice (None when nothing was), for a front end that does not simulate on its own.

    The run is ``monte_carlo`` (the front end's own, e.g. a session's latest) when it is of
    the chosen score, else the model's stored run of it. A Monte Carlo threshold with no run
    at all (the slow latent-search score is not simulated when a model is saved) falls back
    to the holdout threshold meanwhile, and the third value says so.

    Raises:
        ConfigError: If neither the choice nor the holdout threshold can be decided.
    """
    scorer = scoring.resolve_scorer(choice.scorer, det.scorers_)
    mc = monte_carlo if monte_carlo is not None and monte_carlo.scorer == scorer else None
    mc = mc if mc is not None else det.monte_carlo_.get(scorer)
    try:
        return decide(det, choice, mc), mc, None
    except GanmcError as exc:
        if choice.source != "monte-carlo":
            raise
        try:
            d = decide(det, Choice(choice.scorer, "holdout", choice.level))
        except GanmcError:
            raise exc from None
        return d, mc, f"{exc}: the holdout threshold is used meanwhile"


def measure_simulation_speed(det: Detector, *, scorer: str = AUTO,
                             precision: str = "float32") -> float:
    """Samples/s of the model's Monte Carlo sampler on this machine now: one small batch to
    compile and warm it, then one timed batch of the size a run uses (a quarter of it for
    the slow latent-search score). For an estimate before a run; the speed stored with a
    model was measured on another day, maybe on another machine."""
    import time

    name = scoring.resolve_scorer(scorer, det.scorers_)
    resolved = scoring.resolve_precision(precision)
    n = scoring.default_batch_size(name)
    n = n if scoring.TABLE[name].one_pass else max(1, n // 4)
    det.sample_scores(min(n, 64), 0, 0, name, resolved)
    start = time.perf_counter()
    det.sample_scores(n, 0, 1, name, resolved)
    return n / max(time.perf_counter() - start, 1e-9)


# ---------------------------------------------------------------------------- score
def score(det: Detector, x: np.ndarray, decision: Decision) -> list[Verdict]:
    """Verdicts for images at a decision's threshold."""
    return det.verdicts(x, scorer=decision.scorer, calibration=decision.calibration,
                        alpha=decision.level.alpha)


def score_rows(sources: list[str], indices: list[int], verdicts: list[Verdict]
               ) -> list[dict[str, Any]]:
    """One row per image: ``source,index,score,p_value,verdict``."""
    return [{"source": src, "index": idx, "score": round(v.score, 6),
             "p_value": round(v.p_value, 6), "verdict": v.label}
            for src, idx, v in zip(sources, indices, verdicts)]


def evaluate(det: Detector, normal: np.ndarray, anomalous: np.ndarray, decision: Decision
             ) -> dict[str, Any]:
    """AUROC, average precision, and false-alarm and detection rates at the threshold."""
    s_n = det.score_samples(normal, scorer=decision.scorer)
    s_a = det.score_samples(anomalous, scorer=decision.scorer)
    alpha, cal = decision.level.alpha, decision.calibration
    d_n, d_a = det.predict_digit(normal), det.predict_digit(anomalous)
    t_n = cal.thresholds(alpha, d_n) if cal.groups is not None else decision.threshold
    t_a = cal.thresholds(alpha, d_a) if cal.groups is not None else decision.threshold
    r = {"scorer": decision.scorer, "calibration": cal.source, "alpha": alpha,
         "threshold": decision.threshold, "n_normal": len(s_n), "n_anomalous": len(s_a),
         "auroc": metrics.auroc(s_n, s_a),
         "average_precision": metrics.average_precision(s_n, s_a),
         "false_alarm_rate": float(np.mean(s_n > t_n)),
         "detection_rate": float(np.mean(s_a > t_a)),
         "by_digit": {}, "holdout_by_digit": holdout_rates_by_digit(det, decision)}
    if d_n is not None:
        flags = s_n > t_n
        r["by_digit"] = {int(d): {"n": int(np.sum(d_n == d)),
                                  "false_alarm_rate": float(flags[d_n == d].mean())}
                         for d in np.unique(d_n)}
    return r


def holdout_rates_by_digit(det: Detector, decision: Decision) -> dict[int, dict[str, Any]]:
    """Per digit the held-out images are taken for: how many, their threshold, the share of
    them above it, and whether the digit falls back to the pooled threshold (too few
    images). Empty for a model without per-digit Gaussians or held-out digits."""
    digits = det.holdout_digits_.get(decision.scorer)
    scores = det.holdout_scores_.get(decision.scorer)
    if digits is None or scores is None:
        return {}
    alpha, cal = decision.level.alpha, decision.calibration
    fallback = set(cal.fallbacks(alpha, det.config.digits)) if cal.groups else set()
    out = {}
    for d in det.config.digits:
        mine = scores[digits == d]
        t = cal.threshold(alpha, d) if cal.groups is not None else decision.threshold
        out[int(d)] = {"n": int(len(mine)), "threshold": float(t),
                       "false_alarm_rate": float(np.mean(mine > t)) if len(mine) else None,
                       "pooled": d in fallback or cal.groups is None}
    return out


def calibrate_on(path: Path | str, x: np.ndarray, *, name: str,
                 sources: list[str] | None = None, alpha: float | None = None
                 ) -> tuple[Detector, dict[str, Any]]:
    """Re-calibrate a saved model on the user's own normal images: they become its held-out
    set (every score, per digit too), the card records the calibration's name, size and
    sources, and the folder is rewritten atomically under its lock.

    Returns the detector and, per digit and overall, how many images there are and the
    5-95 % band the false-alarm rate at the model's level lands in on further images of the
    same kind (overall, for a ``per-digit`` threshold, the mix of the digits' bands:
    :func:`ganmc.calibration.far_band_per_digit`; per digit
    :func:`ganmc.calibration.far_band`), at ``alpha`` (None: the model's level).

    Raises:
        ConfigError: If there are no images or the name is empty.
    """
    from ganmc.calibration import far_band, far_band_per_digit
    from ganmc.errors import ConfigError

    if not name.strip():
        raise ConfigError("a calibration needs a name")
    if len(x) == 0:
        raise ConfigError("no images to calibrate on")
    path = Path(path)
    with locks.folder_lock(path):
        det = load_model(path)
        det.calibrate(x)
        level = Level(det.alpha if alpha is None else alpha)
        bands = {"all": {"n": len(x), "band": far_band(len(x), level.alpha)}}
        digits = det.predict_digit(x)
        if digits is not None:
            for d in det.config.digits:
                n = int(np.sum(digits == d))
                bands[str(d)] = {"n": n, "band": far_band(n, level.alpha)}
            if det.calibration_ is not None and det.calibration_.source == "per-digit":
                # each digit has its own threshold: the overall rate mixes theirs
                bands["all"]["band"] = far_band_per_digit(
                    {d: int(np.sum(digits == d)) for d in det.config.digits}, level.alpha)
        det.metadata_ = {**det.metadata_, "calibration_set": {
            "name": name.strip(), "n": len(x),
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "sources": sorted(set(sources or []))[:50]}}
        det.notes_ = []
        det.save(path)
    return det, bands


def copy_model(src: Path | str, dest: Path | str) -> Path:
    """Save a copy of the model folder ``src`` as ``dest`` (replacing a model there), atomically
    under ``dest``'s lock: e.g. to calibrate a copy and leave the original as it was.

    Raises:
        ModelError: If ``src`` is no model or ``dest``'s folder cannot be written.
    """
    dest = Path(dest)
    locks.check_writable(dest.parent)
    with locks.folder_lock(dest):
        return load_model(src).save(dest)


# ---------------------------------------------------------------------------- report
def judge_images(det: Detector, decision: Decision, names: list[str], x: np.ndarray,
                 notes: list[str] | None = None) -> list[ReportImage]:
    """Verdicts and, where the score has them, reconstructions of named images."""
    if len(x) == 0:
        return []
    verdicts = score(det, x, decision)
    recons = (det.reconstruct(x, scorer=decision.scorer) if det.can_reconstruct(decision.scorer)
              else [None] * len(x))
    notes = notes or [""] * len(x)
    return [ReportImage(n, img, v, r, note)
            for n, img, v, r, note in zip(names, x, verdicts, recons, notes)]


def test_examples(det: Detector, decision: Decision, limit: int = 1000) -> list[ReportImage]:
    """A typical normal and the most anomalous digit of the bundled digits' fixed test split
    (always offline); for a model of all ten digits, where no test digit is an anomaly, the
    second is the least typical one and is called so."""
    from ganmc.data import load_mnist

    splits = load_mnist("bundled", det.config.digits)
    x, y = splits.x_test[:limit], splits.y_test[:limit]
    i_normal, i_anom, anomalous = report_data.example_indices(
        det.score_samples(x, scorer=decision.scorer), y, det.config.digits)
    odd = "anomalous test image" if anomalous else "least typical test image"
    return judge_images(det, decision, ["normal test image", odd],
                        x[[i_normal, i_anom]],
                        notes=[f"true digit {y[i_normal]}", f"true digit {y[i_anom]}"])


def build_report(det: Detector, decision: Decision, *,
                 monte_carlo: MonteCarloResult | None = None,
                 images: list[tuple[str, np.ndarray]] | None = None,
                 examples: list[ReportImage] | None = None) -> ReportData:
    """Everything a report shows, for a decision (``examples`` None: the test examples)."""
    mc = monte_carlo if monte_carlo is not None else det.monte_carlo_.get(decision.scorer)
    images = images or []
    x = np.stack([img for _, img in images]) if images else np.zeros((0, 28, 28), np.uint8)
    far = None
    if mc is not None and decision.scorer in det.holdout_scores_:
        far = simulation_summary(det, mc, decision.level)["false_alarm_rate_on_holdout"]
    return ReportData(
        det.card(), decision.scorer, decision.calibration, decision.level, mc, far,
        test_examples(det, decision) if examples is None else examples,
        judge_images(det, decision, [n for n, _ in images], x),
        report_time(),
        list(det.notes_) + list(decision.notes), holdout_rates_by_digit(det, decision))


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
