"""From scores to verdicts: p-value, percentile rank, NORMAL or ANOMALY."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganmc.calibration import Threshold

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
            for no digit.
        reason: For an anomaly under the ``combined`` score, why in plain words (the view
            that decided, :data:`ganmc.combined.VIEW_WORDS`); None otherwise.
    """

    score: float
    p_value: float
    percentile_rank: float
    threshold: float
    label: str
    digit: int | None = None
    reason: str | None = None

    @property
    def is_anomaly(self) -> bool:
        return self.label == ANOMALY

    @property
    def taken_for(self) -> str:
        """"taken for a 3" / "taken for an 8"; empty without a digit."""
        return "" if self.digit is None else taken_for(self.digit)


def taken_for(digit: int, bold: bool = False) -> str:
    """The words for the digit an image is taken for, with the right article."""
    shown = f"**{digit}**" if bold else str(digit)
    return f"taken for {'an' if digit == 8 else 'a'} {shown}"


def judge(scores: np.ndarray, threshold: Threshold, digits: np.ndarray | None = None,
          reasons: list[str] | None = None) -> list[Verdict]:
    """Verdicts for scores by a threshold's rule (:meth:`Threshold.flags`; for a per-digit
    threshold, each image by the digit in ``digits`` it is taken for); ``reasons``: why each
    image would be flagged (kept for the anomalies)."""
    scores = np.asarray(scores, np.float64).ravel()
    flags = threshold.flags(scores, digits)
    values = threshold.values(digits, len(scores))
    p = threshold.p_values(scores, digits)
    rank = threshold.percentile_rank(scores, digits)
    names = [None] * len(scores) if digits is None else [None if d < 0 else int(d)
                                                         for d in digits]
    why = reasons or [None] * len(scores)
    return [Verdict(float(s), float(pv), float(r), float(t), ANOMALY if f else NORMAL, d,
                    w if f else None)
            for s, pv, r, t, f, d, w in zip(scores, p, rank, values, flags, names, why)]
