"""From scores to verdicts: p-value, percentile rank, NORMAL or ANOMALY."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganmc.calibration import Calibration

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
        digit: The digit the image is taken for (the nearest per-digit Gaussian), or None
            for a model without per-digit Gaussians.
    """

    score: float
    p_value: float
    percentile_rank: float
    threshold: float
    label: str
    digit: int | None = None

    @property
    def is_anomaly(self) -> bool:
        return self.label == ANOMALY


def judge(scores: np.ndarray, calibration: Calibration, alpha: float,
          digits: np.ndarray | None = None) -> list[Verdict]:
    """Verdicts for scores at false-alarm level alpha: anomaly iff score > threshold (for a
    per-digit calibration, the threshold of the digit in ``digits`` each is taken for)."""
    scores = np.asarray(scores, np.float64).ravel()
    use = digits if calibration.groups is not None else None
    thresholds = (calibration.thresholds(alpha, use) if use is not None
                  else np.full(len(scores), calibration.threshold(alpha)))
    p = calibration.p_values(scores, use, alpha)
    rank = calibration.percentile_rank(scores, use, alpha)
    names = [None] * len(scores) if digits is None else [None if d < 0 else int(d)
                                                         for d in digits]
    return [Verdict(float(s), float(pv), float(r), float(t), ANOMALY if s > t else NORMAL, d)
            for s, pv, r, t, d in zip(scores, p, rank, thresholds, names)]
