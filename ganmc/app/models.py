"""Work on saved model folders: measure the quality card again, add per-digit Gaussians,
calibrate on the user's own images, copy. Each loads the model, asks the detector to change
itself, and saves the folder atomically under its lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core import locks, scorers
from ganmc.core.errors import ModelError, shown
from ganmc.model.detector import Detector, load_model
from ganmc.storage import bundle
from ganmc.thresholds.calibration import check_calibration_name
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.ranks import check_enough, far_band, far_band_per_digit


def assess_model(path: Path | str, *, data: str | None = None,
                 handwriting: Path | str | None = None) -> Detector:
    """Measure a saved model's quality card again and save it in its folder.

    The held-out images are found again from the data the card names (or ``data``), the
    model's seed and hold-out share; they must score exactly as the model's calibration
    scores did, or nothing is written. ``handwriting``: a file of other people's digits and
    capitals (:mod:`ganmc.thresholds.handwriting`), whose figures go onto the card too.

    Raises:
        ModelError: If the data does not give back the model's held-out images.
    """
    path = Path(path)
    _refuse_own_calibration(path, "its quality card is measured on its own held-out digits "
                                  "at its thresholds, which are now those of your images; the "
                                  "card it has was measured before that calibration")
    with locks.folder_lock(path):
        det = load_model(path)
        splits, _, i_held = _own_split(det, path, data)
        holdout = splits.x_train[i_held]
        if not _scores_as_held_out(det, holdout):
            raise ModelError(f"{path}: the data ({splits.source}) does not give back this "
                             f"model's held-out images; name the data it was trained on "
                             f"with --data")
        hand = None if handwriting is None else read_handwriting(handwriting)
        det.assess(holdout, splits.others)
        if hand is not None:
            det.assess_handwriting(hand, Path(handwriting).name)
        bundle.update_card(path, quality=det.quality_)  # networks and arrays stay as they are
    return det


def read_handwriting(path: Path | str) -> dict[str, np.ndarray]:
    """A handwriting file's arrays (:func:`ganmc.thresholds.handwriting.read`)."""
    from ganmc.thresholds.handwriting import read

    return read(path)


def _refuse_own_calibration(path: Path, why: str) -> None:
    """Refuse, before any work, to redo a model's calibration from its training data when it
    is calibrated on the user's own images (``ganmc calibrate``), which are not kept.

    Raises:
        ModelError: Naming the calibration and ``why``.
    """
    metadata = bundle.read_card(path).get("metadata") or {}
    own = metadata.get("calibration_set")
    if isinstance(own, dict):
        name = shown(own.get("name"), 60)
        raise ModelError(f"{path.name}: calibrated on your own images ({name!r}, "
                         f"{own.get('n', '?')} images), which are not kept with the model; {why}")


def _scores_as_held_out(det: Detector, x: np.ndarray) -> bool:
    """Whether images score as the model's held-out images did, under its first one-pass
    network score (not ``combined``, whose held-out values rank each view's largest apart)."""
    name = next((n for n in det.scorers_ if n in scorers.ONE_PASS and n not in scorers.COMPOSITE
                 and n in det.holdout_scores_), None)
    if name is None or len(det.holdout_scores_[name]) != len(x):
        return False
    kept = det.holdout_scores_[name]
    return bool(np.allclose(np.sort(det.score_samples(x, scorer=name)), kept, rtol=1e-4,
                            atol=1e-4 * (float(np.abs(kept).max()) or 1.0)))


def _own_split(det: Detector, path: Path, data: str | None):
    """The data a saved model was trained on (the card's source, or ``data``) split as its
    training run split it: (splits, training indices, held-out indices).

    Raises:
        ModelError: If the split's sizes are not the card's.
    """
    from ganmc.images.data import holdout_indices, load_mnist

    source = data or det.metadata_.get("data_source") or "bundled"
    splits = _own_images(det, path, source) if det.own_images else _Split.of_mnist(
        load_mnist(source, det.config.digits))
    i_train, i_held = holdout_indices(len(splits.x_train), det.config.calibration_fraction,
                                      det.config.seed)
    n_train, n_held = det.metadata_.get("n_train"), det.metadata_.get("n_calibration")
    if (n_train, n_held) != (len(i_train), len(i_held)):
        raise ModelError(f"{path.name}: {source} does not give back this model's images: "
                         f"{len(i_train):,} training and {len(i_held):,} held-out digits, the "
                         f"card says {n_train} and {n_held}; name the model's data with --data")
    return splits, i_train, i_held


@dataclass
class _Split:
    """A model's training data as its run had them: the normal images with their labels
    (None: no labels), the images known not to be normal, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray | None
    others: np.ndarray | None
    source: str

    @classmethod
    def of_mnist(cls, splits) -> _Split:
        return cls(splits.x_train, splits.y_train, splits.x_test[~splits.test_is_normal],
                   splits.source)


def _own_images(det: Detector, path: Path, source: str) -> _Split:
    """A model of the user's own pictures: its folder or zip read again in its framing.

    Raises:
        ModelError: If it was trained on uploads (nothing to read again) or the pictures are
            gone.
    """
    from ganmc.core.errors import GanmcError
    from ganmc.images.folders import read_source

    if not Path(source).exists():
        raise ModelError(f"{path.name}: its pictures ({source}) are not there to read again "
                         f"(uploaded pictures are not kept); name a folder or zip of the same "
                         f"pictures with --data")
    try:
        found = read_source(source, det.framing_)
    except GanmcError as exc:
        raise ModelError(f"{path.name}: its pictures cannot be read again: {exc}") from None
    if (found.classes or None) != det.config.classes:
        raise ModelError(f"{path.name}: {source} has other classes than the model "
                         f"({', '.join(found.classes or ['none'])})")
    return _Split(found.x, found.labels, found.anomalies, found.stored_source)


def add_digit_gaussians(path: Path | str, *, data: str | None = None,
                        progress: Callable[[str], None] | None = None) -> Detector:
    """Give a saved model of several digits its per-digit Gaussians and ``per-digit``
    threshold, from its own training data: the card's data source (or ``data``), digits,
    seed and hold-out share give back the same training and held-out images, now with labels.

    The Gaussian is refitted per digit, the held-out images are scored again (every score, so
    that each score's held-out images have their digits; the other one-pass scores' values
    come out as before, checked; ``latent-search``'s move in the last digits, its search being
    sensitive to rounding) and the Monte Carlo runs of the scores that read the Gaussian
    (``scorers.GAUSSIAN``), if stored, are re-run at their size and seed. Nothing else
    changes. The folder is rewritten atomically under its lock.

    Raises:
        ModelError: If the model is of one digit, or its data do not give back its images.
    """
    say = progress or (lambda _: None)
    path = Path(path)
    _refuse_own_calibration(path, "per-digit Gaussians change every score, so those images "
                                  "would need scoring again: add the digits to a model not "
                                  "calibrated on your images, then calibrate that one")
    with locks.folder_lock(path):
        det = load_model(path)
        if len(det.config.digits) < 2:
            raise ModelError(f"{path.name}: a model of one digit has nothing to tell apart; "
                             f"its Gaussian stays as it is")
        splits, i_train, i_held = _own_split(det, path, data)
        old_holdout = dict(det.holdout_scores_)
        det.fit_digit_gaussians(splits.x_train[i_train], splits.y_train[i_train],
                                splits.x_train[i_held], progress=say)
        for name, before in old_holdout.items():
            scale = float(np.abs(before).max()) or 1.0  # batch sizes move the last digits
            same = np.allclose(before, det.holdout_scores_[name], rtol=1e-4,
                               atol=1e-4 * scale)
            if name in scorers.ONE_PASS and name not in scorers.GAUSSIAN and not same:
                raise ModelError(f"{path.name}: the held-out digits score differently under "
                                 f"{name} than when the model was saved, so they are not its "
                                 f"held-out digits; name the model's data with --data")
        det.save(path)
    return det


def refresh(path: Path | str, *, data: str | None = None,
            progress: Callable[[str], None] | None = None) -> Detector:
    """Bring a saved model up to this version's scores: score its own held-out images again
    under every score (the card's data, or ``data``, split as its training run split it),
    which adds what a model saved before lacks (the ``combined`` score's references),
    simulate each one-pass score that has no stored Monte Carlo run (as many samples as the
    model's largest run, its seed), and measure the quality card again for the score
    ``auto`` now picks. The folder is rewritten atomically under its lock.

    Raises:
        ModelError: If the data do not give back the model's held-out images.
    """
    say = progress or (lambda _: None)
    path = Path(path)
    _refuse_own_calibration(path, "refresh scores the model's own held-out digits again; "
                                  "calibrate it on your images again instead (ganmc calibrate "
                                  "gives it this version's scores too)")
    with locks.folder_lock(path):
        det = load_model(path)
        splits, _, i_held = _own_split(det, path, data)
        old = dict(det.holdout_scores_)
        say(f"scoring the {len(i_held):,} held-out images under every score")
        det.calibrate(splits.x_train[i_held])
        for name, before in old.items():  # the networks' scores (combined is made of them)
            scale = float(np.abs(before).max()) or 1.0  # batch sizes move the last digits
            if name in scorers.ONE_PASS and name not in scorers.COMPOSITE and not np.allclose(
                    before, det.holdout_scores_[name], rtol=1e-4, atol=1e-4 * scale):
                raise ModelError(f"{path.name}: the data ({splits.source}) does not give back "
                                 f"this model's held-out images; name the data it was "
                                 f"trained on with --data")
        runs = list(det.monte_carlo_.values())
        n = max((r.n for r in runs), default=det.mc_samples) or 20_000
        seed = runs[0].seed if runs else det.config.seed
        for name in det.scorers_:
            if name in scorers.ONE_PASS and name not in det.monte_carlo_:
                say(f"simulating {n:,} generated images for {name} (seed {seed})")
                det.run_monte_carlo(n, seed=seed, scorer=name)
        say(f"measuring the quality card of {det.scorer_}")
        det.assess(splits.x_train[i_held], splits.others)
        det.save(path)
    return det


def calibrate_on(path: Path | str, x: np.ndarray, *, name: str,
                 sources: list[str] | None = None, level: Level | None = None,
                 out: Path | str | None = None, latent_search: bool = False,
                 progress: Callable[[str, int, int], None] | None = None
                 ) -> tuple[Detector, dict[str, Any]]:
    """Re-calibrate a saved model on the user's own normal images
    (:meth:`Detector.calibrate` with a name): they become its held-out set, and the folder
    (``out``: a copy there instead, replacing a model of that name) is written atomically
    under its lock.

    The one-pass scores are calibrated; the slow ``latent-search`` (about a hundred times
    slower) only when ``latent_search`` or when it is the score the model's verdicts use,
    else it is left without a hold-out threshold (said in the detector's ``notes_``).
    ``progress(score, done, total)`` is told as the images are scored.

    Returns the detector and, per digit and overall, how many images there are and the
    5-95 % band the false-alarm rate at ``level`` (None: the model's) lands in on further
    images of the same kind (overall, for a ``per-digit`` threshold, the mix of the digits'
    bands: :func:`ganmc.thresholds.ranks.far_band_per_digit`; per digit
    :func:`ganmc.thresholds.ranks.far_band`).

    Raises:
        ConfigError: If there are too few images for a threshold at the model's level (or
            ``level``), checked before anything is loaded or written, or the name is
            unusable.
    """
    path, out = Path(path), Path(out or path)
    name = check_calibration_name(name)
    # Refused before any work: a set too small for the model's level (or the one asked)
    # would give thresholds that flag nothing.
    card_level = Level(bundle.read_card(path).get("alpha", Level().alpha))
    for at in {card_level, level or card_level}:
        check_enough(len(x), at, advice="; nothing was changed")
    if out != path:
        locks.check_writable(out.parent)
    with locks.folder_lock(out):
        det = load_model(path)
        wanted = {n for n in det.scorers_ if n in scorers.ONE_PASS}
        wanted |= {n for n in det.scorers_ if scorers.REGISTRY[n].searches
                   and (latent_search or n == det.scorer_)}
        det.calibrate(x, name=name, sources=sources, scorers=tuple(wanted), progress=progress)
        level = level or det.level()
        bands = {"all": {"n": len(x), "band": far_band(len(x), level)}}
        digits = det.predict_digit(x)
        if digits is not None:
            counts = {d: int(np.sum(digits == d)) for d in det.config.digits}
            bands.update({str(d): {"n": n, "band": far_band(n, level)}
                          for d, n in counts.items()})
            if det.calibration_ is not None and det.calibration_.per_digit:
                # each digit has its own threshold: the overall rate mixes theirs
                bands["all"]["band"] = far_band_per_digit(counts, level)
        det.save(out)
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
