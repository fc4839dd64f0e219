"""How good a trained model is, measured without any anomalies from the user.

- :class:`LiveProbe`: while the GAN trains, after every round, a Gaussian over D's features of
  a few hundred training images (one pass of D) scores a few hundred held-out normal images
  against small anomaly sets; the AUROC of each is a point of the live quality curve.
- :func:`assess`: at the end of training, the quality card: the false-alarm rate of the
  verdict threshold on the held-out normal images, and AUROC and detection rate against the
  held-out images of the other digits (when only some digits are normal) and against
  synthetic anomaly sets (:mod:`ganmc.images.anomalies`), with a reading in plain words.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganmc.core.config import CUSTOM
from ganmc.core.presets import PRESETS
from ganmc.images import anomalies
from ganmc.thresholds.distribution import Level, percent
from ganmc.thresholds.metrics import auroc

#: The false-alarm levels the card measures.
ALPHAS = (0.01, 0.05, 0.10)
#: The level of the card's detection rates.
DETECTION_ALPHA = 0.05
#: Images per anomaly set: on the card, and for each point of the live curve.
CARD_N, LIVE_N = 1000, 250
#: Training images the live Gaussian is fitted to, and its principal directions.
LIVE_FIT_N, LIVE_COMPONENTS = 500, 256
OTHER_DIGITS = "other digits"
#: The set of a model of the user's own images: the pictures of its data's ``anomaly/`` folder.
ANOMALY_FOLDER = "anomaly folder"


@dataclass(frozen=True)
class Bar:
    """The AUROC a set needs for a model to read "good", and to read "usable"."""

    good: float
    usable: float


#: The readings' thresholds by set. Scribbles are the hardest set for any model (a scribble of
#: two strokes can be a fair digit); the others a good model separates almost perfectly.
BARS = {OTHER_DIGITS: Bar(0.95, 0.85), ANOMALY_FOLDER: Bar(0.95, 0.85),
        "uniform noise": Bar(0.99, 0.95),
        "inverted": Bar(0.99, 0.95), "scribbles": Bar(0.90, 0.75),
        "printed letters": Bar(0.95, 0.85), "Fashion-MNIST": Bar(0.97, 0.90)}
READINGS = ("good", "usable", "under-trained")


def anomaly_sets(normal: np.ndarray, others: np.ndarray | None, n: int, seed: int = 0,
                 own: bool = False) -> dict[str, np.ndarray]:
    """The card's anomaly sets: the other digits (when given), uniform noise, the normal
    images inverted, scribbles of two or three strokes, printed capital letters (those not
    written like digits) and Fashion-MNIST where installed.

    ``own``: a model of the user's own images: ``others`` are the pictures of its anomaly
    folder, and only uniform noise and the inverted images are added (scribbles, letters and
    Fashion-MNIST say something only of digits; they could be normal for other images).
    """
    rng = np.random.default_rng(seed)
    sets: dict[str, np.ndarray] = {}
    if others is not None and len(others):
        sets[ANOMALY_FOLDER if own else OTHER_DIGITS] = others[rng.permutation(len(others))[:n]]
    sets["uniform noise"] = anomalies.uniform_noise(n, seed)
    sets["inverted"] = anomalies.inverted(normal[:n])
    if own:
        return sets
    sets["scribbles"] = _scribbles(max(n, CARD_N), seed)[:n]
    letters = _printed(max(n, CARD_N), seed)
    if letters is not None:
        sets["printed letters"] = letters[:n]
    fashion = anomalies.fashion_mnist(n)
    if fashion is not None:
        sets["Fashion-MNIST"] = fashion
    return sets


@functools.lru_cache(maxsize=2)
def _scribbles(n: int, seed: int) -> np.ndarray:
    """The scribbles, drawn once a process (a few seconds for the card's 1,000): the live
    curve uses the first of the card's."""
    x = anomalies.scribbles(n, seed)
    x.setflags(write=False)
    return x


@functools.lru_cache(maxsize=2)
def _printed(n: int, seed: int) -> np.ndarray | None:
    """The printed letters, drawn once a process, like the scribbles."""
    x = anomalies.printed_letters(n, seed)
    if x is not None:
        x.setflags(write=False)
    return x


class LiveProbe:
    """The live quality curve's measurement, built once before training.

    Args:
        train: Training images (a sample of up to ``LIVE_FIT_N`` is used).
        normal: Held-out normal images (up to ``LIVE_N``); when there are fewer than 20, a
            part of ``train`` not used for the fit stands in (half of it, for a training set
            of fewer than twice ``LIVE_FIT_N`` images).
        others: Images of the other digits (or of the anomaly folder), or None.
        seed: Seed of the samples and the synthetic sets.
        own: The user's own images (:func:`anomaly_sets`).
    """

    def __init__(self, train: np.ndarray, normal: np.ndarray, others: np.ndarray | None,
                 seed: int = 0, own: bool = False):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(train))
        n_fit = LIVE_FIT_N
        if len(normal) < 20:  # stand-ins from the training images the Gaussian is not fitted to
            n_fit = min(LIVE_FIT_N, max(1, len(train) // 2))
            normal = train[order[n_fit:n_fit + LIVE_N]]
        fit = train[order[:n_fit]]
        normal = normal[:LIVE_N]
        self.sets = anomaly_sets(normal, others, LIVE_N, seed, own)
        self.names = list(self.sets)
        parts = [fit, normal, *self.sets.values()]
        self.bounds = np.cumsum([0] + [len(p) for p in parts])
        self.images = np.concatenate(parts)

    def __call__(self, discriminator) -> dict[str, float]:
        """AUROC by set for D as it is now."""
        from ganmc.nets.density import FeatureGaussian, features_of
        from ganmc.nets.networks import feature_model

        if getattr(self, "_for", None) is not discriminator:
            self._for, self._features = discriminator, feature_model(discriminator)
        f = features_of(self._features, self.images)
        b = self.bounds
        try:
            g = FeatureGaussian.fit(f[:b[1]], min(LIVE_COMPONENTS, b[1] - 1))
        except Exception:  # features that do not vary yet: nothing to measure
            return {name: 0.5 for name in self.names}
        d = g.distance(f).numpy()
        normal = d[b[1]:b[2]]
        return {name: round(float(auroc(normal, d[b[2 + i]:b[3 + i]])), 4)
                for i, name in enumerate(self.names)}


def assess(score: Callable[[np.ndarray], np.ndarray],
           flags: Callable[[np.ndarray, np.ndarray, Level], np.ndarray],
           normal: np.ndarray, sets: dict[str, np.ndarray], *, scorer: str,
           preset: str, normal_words: str = "digits") -> dict[str, Any]:
    """The quality card.

    Args:
        score: The model's score in use, images -> scores.
        flags: The model's verdict rule: (images, their scores, level) -> True for each
            anomaly (per digit where the model has one threshold a digit).
        normal: Held-out normal images (never trained on).
        sets: Anomaly sets by name (:func:`anomaly_sets`).
        scorer: The score's name, for the card.
        preset: The training preset, for the reading.
        normal_words: What the normal images are ("digits", "images"), for the reading.
    """
    normal_scores = np.asarray(score(normal), np.float64)
    far = {f"{a:g}": float(np.mean(flags(normal, normal_scores, Level(a)))) for a in ALPHAS}
    detect = Level(DETECTION_ALPHA)
    by_set = {}
    for name, x in sets.items():
        s = np.asarray(score(x), np.float64)
        by_set[name] = {"n": int(len(x)), "auroc": round(float(auroc(normal_scores, s)), 4),
                        "detection": round(float(np.mean(flags(x, s, detect))), 4)}
    level, words = reading(by_set, preset, normal_words)
    return {"scorer": scorer, "n_normal": int(len(normal_scores)), "false_alarm": far,
            "detection_alpha": DETECTION_ALPHA, "sets": by_set, "reading": level,
            "words": words, "preset": preset}


def reading(by_set: dict[str, dict[str, float]], preset: str, normal_words: str = "digits"
            ) -> tuple[str, str]:
    """The card's verdict on the model, as (level, plain words; ``normal_words``: what its
    normal images are)."""
    levels = {}
    for name, r in by_set.items():
        bar = BARS.get(name, Bar(0.95, 0.85))
        levels[name] = 0 if r["auroc"] >= bar.good else 1 if r["auroc"] >= bar.usable else 2
    worst = max(levels.values(), default=0)
    if preset == "quick":
        worst = max(worst, 1)
    weak = [n for n, lv in levels.items() if lv == worst and lv > 0]
    figures = ", ".join(f"{by_set[n]['auroc']:.3f}" for n in weak)
    longer = _longer(preset)
    if worst == 0:
        words = (f"Good: it tells the normal {normal_words} apart from every test set (lowest "
                 f"AUROC {min(r['auroc'] for r in by_set.values()):.3f}).")
    elif worst == 1:
        words = "Usable"
        if weak:
            words += f": weaker on {', '.join(weak)} (AUROC {figures})"
        words += f". For a better detector, {longer}."
    else:
        words = (f"Under-trained: it does not yet tell {', '.join(weak)} from normal "
                 f"{normal_words} (AUROC {figures}); {longer}.")
    if preset == "quick":
        words += (" Trained with the quick preset, which is for trying things; the standard "
                  "preset gives a good detector in about five minutes.")
    return READINGS[worst], words


def _longer(preset: str) -> str:
    """Advice to train longer, naming the next preset up."""
    names = list(PRESETS)
    if preset in names and names.index(preset) + 1 < len(names):
        nxt = names[names.index(preset) + 1]
        return f"train longer (preset {nxt})"
    if preset == CUSTOM:
        return "train longer (preset standard or thorough)"
    return "train longer (more --steps)"


#: Why a model has no quality card, by whether it held images out.
NO_CARD = ("No quality card: the model was trained before ganmc measured one, or its training "
           "was stopped; ganmc assess --model DIR measures it.")
NO_HOLDOUT = ("No quality card and no holdout (conformal) threshold: no normal images were "
              "held out of training (calibration fraction 0), so there is nothing to measure "
              "them on; train with a calibration fraction above 0 for both.")


def card_lines(q: dict[str, Any] | None, held_out: int | None = None) -> list[str]:
    """The quality card in plain lines, for ``ganmc train``, ``ganmc info`` and the report;
    ``held_out``: the model's held-out images (the card's ``n_calibration``), which say why
    a model without a card has none."""
    if not q:
        return [NO_HOLDOUT if held_out == 0 else NO_CARD]
    far = ", ".join(f"{percent(v, '.1f')} at {percent(float(a), 'g')}"
                    for a, v in q["false_alarm"].items())
    lines = [f"Quality ({q['reading']}): {_after_reading(q['words'], q['reading'])}",
             f"  false alarms on {q['n_normal']:,} held-out normal images ({q['scorer']} "
             f"score, verdict threshold): {far}"]
    for name, r in q["sets"].items():
        at = percent(q.get("detection_alpha", DETECTION_ALPHA), "g")
        lines.append(f"  {name}: AUROC {r['auroc']:.3f}, caught "
                     f"{percent(r['detection'], '.1f')} at {at} false alarms ({r['n']:,} images)")
    if q.get("handwriting"):
        from ganmc.thresholds.handwriting import lines as handwriting_lines

        lines += ["  " + line for line in handwriting_lines(q["handwriting"])]
    if q.get("before_calibration"):
        lines.append("  " + before_calibration(q))
    return lines


def _after_reading(words: str, reading: str) -> str:
    """The card's words without the reading they open with ("Good: …", "Usable. …"), which
    the line already says in brackets."""
    if words[:len(reading)].lower() == reading.lower() and words[len(reading):][:1] in ":.":
        return words[len(reading) + 1:].lstrip()
    return words


def summary_line(q: dict[str, Any] | None) -> str:
    """The quality card in one line (the PNG report's)."""
    if not q:
        return "Model quality: not measured (a model from before the quality card)."
    return (f"Model quality: {q['reading']} — AUROC " + ", ".join(
        f"{name} {r['auroc']:.3f}" for name, r in q["sets"].items()))


def before_calibration(q: dict[str, Any]) -> str:
    """The caveat of a card measured before the model was calibrated on the user's images."""
    return (f"(measured with the model's own held-out digits, before it was calibrated on "
            f"\"{q['before_calibration']}\": the false alarms and catches at its thresholds "
            f"now differ; the AUROCs do not depend on them)")
