"""What of a detector goes into a model folder, and how it comes back.

:mod:`ganmc.storage.bundle` writes and reads the folder (the card, the Keras files, the arrays);
this module maps a :class:`ganmc.model.detector.Detector`'s fitted state onto it: the array names,
the feature Gaussian, the stored Monte Carlo runs, and the checks that the parts fit together.
Whatever a load cannot find is said in ``notes``, never silently replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core.config import DEFAULT_PAC_DELTA, DIGITS, TrainConfig
from ganmc.core.errors import ConfigError, ModelError
from ganmc.nets import density
from ganmc.nets.networks import Networks
from ganmc.scores.combined import GUARDS, VIEW_WORDS, Combination
from ganmc.scores.scoring import available
from ganmc.storage import bundle
from ganmc.thresholds.calibration import as_json_threshold, choose
from ganmc.thresholds.distribution import Level, ScoreDistribution, percent
from ganmc.thresholds.montecarlo import MonteCarloResult
from ganmc.thresholds.ranks import min_images, pac_min_images, usable_group


@dataclass
class Loaded:
    """A model folder, read: settings, networks and calibration scores."""

    path: Path
    card: dict[str, Any]
    config: TrainConfig
    networks: Networks
    holdout: dict[str, np.ndarray] = field(default_factory=dict)
    holdout_digits: dict[str, np.ndarray] = field(default_factory=dict)
    monte_carlo: dict[str, MonteCarloResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quality: dict[str, Any] | None = None
    combination: Combination | None = None
    framing: str = DIGITS
    examples: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.card.get("metadata") or {}

    def settings(self) -> dict[str, Any]:
        """The detector's keyword arguments from the card; a score the folder cannot serve
        becomes ``auto``, with a note."""
        scorer = self.card.get("scorer", "auto")
        have = available(self.networks, self.config.digits, self.combination is not None)
        if scorer != "auto" and scorer not in have:
            self.notes.append(f"the card's score {scorer} is not available; using auto "
                              f"({have[0]}) instead")
            scorer = "auto"
        return {**self.config.to_dict(), "scorer": scorer,
                "calibration": self.card.get("calibration", "auto"),
                "alpha": self.card.get("alpha", Level().alpha),
                "pac_delta": self.card.get("pac_delta", DEFAULT_PAC_DELTA)}


def arrays_of(networks: Networks, holdout: dict[str, np.ndarray],
              monte_carlo: dict[str, MonteCarloResult],
              holdout_digits: dict[str, np.ndarray] | None = None,
              combination: Combination | None = None,
              examples: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The named arrays saved beside the networks (``holdout-digits/NAME``: the digit each
    held-out image of ``holdout/NAME`` is taken for, in the same order; ``combination/VIEW``:
    the combined score's held-out references; ``examples/KIND``: uint8 (N, 28, 28) pictures
    a model of the user's own images keeps for its reports, ``normal`` and ``anomaly``)."""
    arrays = {f"holdout/{k}": v for k, v in holdout.items()}
    arrays.update({f"examples/{k}": np.asarray(v, np.uint8)
                   for k, v in (examples or {}).items()})
    if combination is not None:
        arrays.update({f"combination/{k}": v for k, v in combination.arrays().items()})
    arrays.update({f"holdout-digits/{k}": v for k, v in (holdout_digits or {}).items()
                   if k in holdout})
    for prefix, gauss in (("density", networks.density),
                          ("shape-density", networks.shape_density)):
        if gauss is None:
            continue
        arrays.update({f"{prefix}/{k}": getattr(gauss, k) for k in density.PARTS})
        if gauss.per_digit:
            arrays.update({f"{prefix}/{k}": getattr(gauss, k) for k in density.DIGIT_PARTS})
        if gauss.strokes is not None:
            arrays[f"{prefix}/strokes"] = gauss.strokes
            arrays[f"{prefix}/stroke_weight"] = np.asarray(gauss.stroke_weight, np.float32)
    for k, r in monte_carlo.items():
        if r.distribution.exact:
            arrays[f"montecarlo/{k}"] = r.distribution.scores
    return arrays


def card(config: TrainConfig, metadata: dict[str, Any], scorers: tuple[str, ...], scorer: str,
         calibration: str, level: Level, holdout: dict[str, np.ndarray],
         monte_carlo: dict[str, MonteCarloResult],
         holdout_digits: dict[str, np.ndarray] | None = None,
         quality: dict[str, Any] | None = None,
         combination: Combination | None = None,
         pac_delta: float = DEFAULT_PAC_DELTA, framing: str = DIGITS) -> dict[str, Any]:
    """The model card: settings, training metadata, each score's thresholds at the level (per digit
    too, where the held-out images have the digits they are taken for; and the PAC thresholds at
    ``pac_delta`` where there are enough held-out images), the combined score's views, the quality
    card (:mod:`ganmc.thresholds.quality`) and the framing (``framing``: how every image the model
    judges is put into its 28x28 frame, :func:`ganmc.images.preprocess.frame`; a card without it is
    ``digits``)."""
    summary: dict[str, dict[str, Any]] = {}
    for name in scorers:
        entry: dict[str, Any] = {}
        if name in holdout:
            c = choose("holdout", level, holdout=holdout[name])
            entry["holdout"] = {"n": c.distribution.n, "threshold": as_json_threshold(c.value)}
            pac_ok = c.distribution.n >= pac_min_images(level, pac_delta)
            if pac_ok:
                pac = choose("pac", level, holdout=holdout[name], delta=pac_delta)
                entry["pac"] = {"n": c.distribution.n, "delta": pac_delta, "rank": pac.rank,
                                "threshold": as_json_threshold(pac.value)}
            digits = (holdout_digits or {}).get(name)
            if digits is not None:
                p = choose("per-digit", level, holdout=holdout[name], holdout_digits=digits)
                entry["per-digit"] = {
                    "n": c.distribution.n,
                    "counts": {str(d): g.n for d, g in p.groups.items()},
                    "thresholds": {str(d): as_json_threshold(t)
                                   for d, t in p.by_digit(tuple(p.groups)).items()},
                    "fallback": p.fallbacks(tuple(config.digits))}
                if pac_ok:
                    q = choose("per-digit-pac", level, holdout=holdout[name],
                               holdout_digits=digits, delta=pac_delta)
                    entry["per-digit-pac"] = {
                        "n": c.distribution.n, "delta": pac_delta,
                        "thresholds": {str(d): as_json_threshold(t)
                                       for d, t in q.by_digit(tuple(q.groups)).items()},
                        "fallback": q.fallbacks(tuple(config.digits))}
        if name in monte_carlo:
            r = monte_carlo[name]
            entry["monte_carlo"] = {"n": r.n, "seed": r.seed,
                                    "threshold": as_json_threshold(r.threshold(level)),
                                    "samples_per_s": round(r.samples_per_s, 1)}
        summary[name] = entry
    return {"config": config.to_dict(), "metadata": metadata, "scorers": list(scorers),
            "scorer": scorer, "calibration": calibration, "alpha": float(f"{level.alpha:.12g}"),
            "pac_delta": pac_delta, "calibration_summary": summary, "quality": quality,
            "combination": None if combination is None else combination.describe(),
            "framing": framing}


def save(path: Path | str, card: dict[str, Any], networks: Networks,
         holdout: dict[str, np.ndarray], monte_carlo: dict[str, MonteCarloResult],
         holdout_digits: dict[str, np.ndarray] | None = None,
         combination: Combination | None = None,
         examples: dict[str, np.ndarray] | None = None) -> Path:
    """Write a model folder atomically."""
    nets = {"generator": networks.generator, "discriminator": networks.discriminator}
    for name in bundle.OPTIONAL_NETWORKS:
        if getattr(networks, name) is not None:
            nets[name] = getattr(networks, name)
    return bundle.save_bundle(path, card=card, networks=nets,
                              arrays=arrays_of(networks, holdout, monte_carlo, holdout_digits,
                                               combination, examples))


def load(path: Path | str | None = None) -> Loaded:
    """Read a model folder (the shipped one when ``path`` is None).

    Raises:
        ModelError: If the folder is missing, corrupt, foreign, or its parts do not fit.
    """
    path = Path(path) if path is not None else bundle.DEFAULT_MODEL
    files = bundle.load_bundle(path)
    card = files.card
    try:
        config = TrainConfig.from_dict(card["config"])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, ConfigError) as exc:
        raise ModelError(f"{path}: bad model card ({exc})") from None
    try:
        nets = Networks(files.networks["generator"], files.networks["discriminator"],
                        files.networks.get("encoder"), _density(files.arrays),
                        files.networks.get("shape"), _density(files.arrays, "shape-density"))
    except (ValueError, KeyError, TypeError) as exc:  # no "features" layer: not one of ours
        raise ModelError(f"{path}: networks are not ganmc's ({exc})") from None
    _check_shapes(path, nets, config.latent_dim)
    loaded = Loaded(path, card, config, nets, framing=card.get("framing") or DIGITS)
    loaded.quality = card.get("quality") if isinstance(card.get("quality"), dict) else None
    summary = card.get("calibration_summary") or {}
    for key, arr in files.arrays.items():
        kind, _, name = key.partition("/")
        if kind == "holdout":
            scores = _scores(path, key, arr)
            digits = files.arrays.get(f"holdout-digits/{name}")
            order = np.argsort(scores, kind="stable")
            loaded.holdout[name] = scores[order]
            if (digits is not None and digits.shape == scores.shape
                    and digits.dtype.kind in "iu" and nets.per_digit):
                loaded.holdout_digits[name] = digits.astype(np.int64)[order]
        elif kind == "examples":  # checked by bundle.load_bundle (cardcheck.check_arrays)
            loaded.examples[name] = arr
        elif kind == "montecarlo":
            info = summary.get(name, {}).get("monte_carlo", {}) if isinstance(
                summary.get(name), dict) else {}
            rate = float(info.get("samples_per_s") or 0.0)
            scores = _scores(path, key, arr)
            loaded.monte_carlo[name] = MonteCarloResult(
                len(scores), len(scores), int(info.get("seed", 0)), name,
                len(scores) / rate if rate else 0.0, ScoreDistribution.from_scores(scores))
    loaded.combination = _combination(path, card, files.arrays)
    have = available(nets, config.digits, loaded.combination is not None)
    loaded.holdout = {k: v for k, v in loaded.holdout.items() if k in have}
    loaded.holdout_digits = {k: v for k, v in loaded.holdout_digits.items() if k in have}
    loaded.monte_carlo = {k: v for k, v in loaded.monte_carlo.items() if k in have}
    loaded.notes = _missing_parts(card, nets, loaded)
    return loaded


def _combination(path: Path, card: dict[str, Any], arrays: dict[str, np.ndarray]
                 ) -> Combination | None:
    """The combined score's references, if the folder has them (a model saved before the
    combined score has none: it simply lacks the score)."""
    views = {k.partition("/")[2]: v for k, v in arrays.items() if k.startswith("combination/")}
    info = card.get("combination")
    if not views and not info:
        return None
    info = info if isinstance(info, dict) else {}
    # a card from before the shape network names its one main view, and its guards are
    # GUARDS
    mains = info.get("mains", [info.get("main")])
    guards = info.get("guards", list(GUARDS))
    if not (isinstance(mains, list) and isinstance(guards, list) and mains
            and all(isinstance(v, str) and v in VIEW_WORDS for v in mains + guards)):
        raise ModelError(f"{path}: the card's combined score names no main score")
    try:
        return Combination.from_arrays(tuple(mains), views, tuple(guards))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _scores(path: Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "fiu":
        raise ModelError(f"{path}: {key} in {bundle.ARRAYS} is not a list of scores")
    scores = arr.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ModelError(f"{path}: {key} in {bundle.ARRAYS} holds NaN or infinite scores")
    return scores


def _missing_parts(card: dict[str, Any], nets: Networks, loaded: Loaded) -> list[str]:
    """What the card promises that the folder does not hold, in plain words."""
    notes = []
    promised = card.get("scorers") if isinstance(card.get("scorers"), list) else []
    if "fanogan" in promised and nets.encoder is None:
        notes.append("encoder.keras is missing, so the fanogan score is not available")
    if "shape" in promised and (nets.shape is None or nets.shape_density is None):
        notes.append("the shape network (shape.keras) or the Gaussian over its features is "
                     "missing, so the shape score is not available and combined, if any, is "
                     "the older one")
    if "mahalanobis" in promised and nets.density is None:
        notes.append(f"the feature Gaussian is missing from {bundle.ARRAYS}, so the "
                     f"mahalanobis score is not available")
    elif "mahalanobis-strokes" in promised and nets.strokes is None:
        notes.append(f"the stroke figures are missing from {bundle.ARRAYS}, so the "
                     f"mahalanobis-strokes score is not available")
    config = card.get("config") if isinstance(card.get("config"), dict) else {}
    digits = config.get("digits") if isinstance(config.get("digits"), list) else []
    if len(digits) > 1 and nets.density is not None and not nets.density.per_digit:
        notes.append("the feature Gaussian is one for all digits (saved before per-digit "
                     "Gaussians, or trained without labels): no per-digit threshold, and "
                     "mahalanobis is the plain score; `ganmc add-digits` adds them")
    elif nets.density is not None and nets.density.per_digit and loaded.holdout and (
            not loaded.holdout_digits):
        notes.append(f"the held-out images' digits are missing from {bundle.ARRAYS}, so "
                     f"there is no per-digit threshold")
    level = Level(card.get("alpha", Level().alpha))
    smallest = min((len(v) for v in loaded.holdout.values()), default=None)
    if smallest is not None and not usable_group(smallest, level):
        notes.append(f"its {smallest:,} held-out (calibration) images are too few for a "
                     f"threshold at {percent(level.alpha, 'g')} false alarms (at least "
                     f"{min_images(level):,}): the hold-out threshold flags nothing; calibrate "
                     f"it again on more images")
    summary = card.get("calibration_summary")
    if isinstance(summary, dict):
        lost = sorted(name for name, entry in summary.items()
                      if isinstance(entry, dict) and "holdout" in entry
                      and name not in loaded.holdout)
        if lost:
            notes.append(f"the hold-out scores of {', '.join(lost)} are missing from "
                         f"{bundle.ARRAYS}, so those thresholds need a Monte Carlo simulation")
    return notes


def _density(arrays: dict[str, np.ndarray], prefix: str = "density"
             ) -> density.FeatureGaussian | None:
    """The saved feature Gaussian (``shape-density``: the shape network's), or None for
    models saved without one."""
    parts = [arrays.get(f"{prefix}/{k}") for k in density.PARTS]
    if any(p is None for p in parts):
        return None
    mean, components, variances = parts
    if (mean.ndim != 1 or components.ndim != 2 or variances.ndim != 1
            or any(p.dtype.kind not in "fiu" for p in parts)):
        raise ValueError("the feature Gaussian's arrays have the wrong shapes or types")
    g = density.FeatureGaussian(*(p.astype(np.float32) for p in parts))
    extra = [arrays.get(f"{prefix}/{k}") for k in density.DIGIT_PARTS]
    if all(p is None for p in extra):
        return _strokes(g, arrays, prefix)
    if any(p is None for p in extra):
        raise ValueError("the per-digit Gaussians are incomplete")
    digits, means, whiteners = extra
    c, k = len(digits), len(variances)
    if (digits.shape != (c,) or digits.dtype.kind not in "iu" or means.shape != (c, k)
            or whiteners.shape != (c, k, k) or not np.isfinite(means).all()
            or not np.isfinite(whiteners).all()):
        raise ValueError("the per-digit Gaussians' arrays have the wrong shapes or types")
    g.digits, g.digit_means = digits.astype(np.int64), means.astype(np.float32)
    g.whiteners = whiteners.astype(np.float32)
    return _strokes(g, arrays, prefix)


def _strokes(g: density.FeatureGaussian, arrays: dict[str, np.ndarray], prefix: str
             ) -> density.FeatureGaussian:
    """``g`` with its saved stroke-length correction, if the model has one."""
    strokes, weight = (arrays.get(f"{prefix}/{k}") for k in density.STROKE_PARTS)
    if strokes is None and weight is None:
        return g
    rows = len(g.digits) if g.per_digit else 1
    if (strokes is None or weight is None or strokes.shape != (rows, 4) or weight.shape != ()
            or strokes.dtype.kind != "f" or weight.dtype.kind != "f"
            or not np.isfinite(strokes).all() or not np.isfinite(weight)
            or not (strokes[:, [1, 3]] > 0).all()):
        raise ValueError("the stroke-length correction's arrays have the wrong shapes or values")
    g.strokes, g.stroke_weight = strokes.astype(np.float32), float(weight)
    return g


def _check_shapes(path: Path, nets: Networks, latent_dim: int) -> None:
    def shape(t):
        return tuple(t.shape[1:])

    problems = []
    if shape(nets.generator.inputs[0]) != (latent_dim,):
        problems.append(f"generator takes {shape(nets.generator.inputs[0])}, card says "
                        f"({latent_dim},)")
    if shape(nets.generator.outputs[0]) != (28, 28, 1):
        problems.append(f"generator makes {shape(nets.generator.outputs[0])}")
    if shape(nets.discriminator.inputs[0]) != (28, 28, 1):
        problems.append(f"discriminator takes {shape(nets.discriminator.inputs[0])}")
    if nets.encoder is not None and shape(nets.encoder.outputs[0]) != (latent_dim,):
        problems.append(f"encoder makes {shape(nets.encoder.outputs[0])}")
    if nets.shape is not None:
        if shape(nets.shape.inputs[0]) != (28, 28, 1) or len(nets.shape.outputs) != 2:
            problems.append("the shape network does not take 28 x 28 images to (features, "
                            "logits)")
        elif nets.shape_density is not None and nets.shape_density.components.shape[1] != (
                int(np.prod(nets.shape.outputs[0].shape[1:]))):
            problems.append("the shape network's Gaussian does not fit its features")
    if nets.density is not None:
        n_features = int(np.prod(nets.features.outputs[0].shape[1:]))
        k, width = nets.density.components.shape
        if width != n_features or nets.density.mean.shape != (n_features,) or (
                nets.density.variances.shape != (k,)):
            problems.append(f"the feature Gaussian is over {width} features, D has {n_features}")
    if problems:
        raise ModelError(f"{path}: networks do not fit together: {'; '.join(problems)}")
