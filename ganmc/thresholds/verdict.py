"""From scores to verdicts: p-value, percentile rank, NORMAL or ANOMALY."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganmc.core.naming import Names
from ganmc.thresholds.calibration import Threshold

NORMAL, ANOMALY = "normal", "anomaly"


@dataclass(frozen=True)
class Verdict:
    """What the tool says of one image.

    Attributes:
        score: Anomaly score (higher = more anomalous).
        p_value: Conformal p-value against the normal scores (small = unlike them).
        percentile_rank: Percentage of normal scores below this one.
        threshold: The threshold in force.
        label: ``"normal"`` or ``"anomaly"``.
        digit: The digit the image is taken for, or None for a model that takes images
            for no digit; for a model of named classes, the index of the class.
        reason: For an anomaly under the ``combined`` score, why in plain words (the view
            that decided, :data:`ganmc.scores.combined.VIEW_WORDS`); None otherwise.
        name: What that digit or class is called ("3", "sandal"); None without one.
    """

    score: float
    p_value: float
    percentile_rank: float
    threshold: float
    label: str
    digit: int | None = None
    reason: str | None = None
    name: str | None = None

    @property
    def is_anomaly(self) -> bool:
        return self.label == ANOMALY

    @property
    def taken_for(self) -> str:
        """"taken for a 3" / "taken for an 8" / 'taken for "sandal"'; empty without one."""
        if self.digit is None:
            return ""
        if self.name is not None and self.name != str(self.digit):
            return f"taken for \"{self.name}\""
        return taken_for(self.digit)


def columns(v: Verdict, names: Names | None = None) -> dict:
    """A verdict as the columns every table of verdicts shares, in this order (``ganmc
    score``'s output, the Detect page's CSV, the report's CSV and JSON): ``score, p_value,
    threshold`` (the one the verdict used), ``digit`` (``class``, with the class's name, for
    a model of named classes; empty for a model that takes images for no digit), ``verdict``
    and ``reason`` (why an anomaly was flagged; empty where the score gives none)."""
    column = (names or Names()).noun
    return {"score": round(v.score, 6), "p_value": round(v.p_value, 6),
            "threshold": round(v.threshold, 6),
            column: "" if v.digit is None else (v.name if column == "class" else v.digit),
            "verdict": v.label, "reason": v.reason or ""}


def taken_for(digit: int, bold: bool = False, names: Names | None = None) -> str:
    """The words for the digit (or named class) an image is taken for, with the right
    article."""
    return (names or Names()).taken_for(digit, bold)


def judge(scores: np.ndarray, threshold: Threshold, digits: np.ndarray | None = None,
          reasons: list[str] | None = None, names: Names | None = None) -> list[Verdict]:
    """Verdicts for scores by a threshold's rule (:meth:`Threshold.flags`; for a per-digit
    threshold, each image by the digit in ``digits`` it is taken for); ``reasons``: why each
    image would be flagged (kept for the anomalies); ``names``: what the digits or classes
    are called."""
    scores = np.asarray(scores, np.float64).ravel()
    flags = threshold.flags(scores, digits)
    values = threshold.values(digits, len(scores))
    p = threshold.p_values(scores, digits)
    rank = threshold.percentile_rank(scores, digits)
    names = names or Names()
    labels = [None] * len(scores) if digits is None else [None if d < 0 else int(d)
                                                          for d in digits]
    why = reasons or [None] * len(scores)
    return [Verdict(float(s), float(pv), float(r), float(t), ANOMALY if f else NORMAL, d,
                    w if f else None, None if d is None else names.name(d))
            for s, pv, r, t, f, d, w in zip(scores, p, rank, values, flags, labels, why)]
