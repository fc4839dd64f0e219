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
    """

    score: float
    p_value: float
    percentile_rank: float
    threshold: float
    label: str

    @property
    def is_anomaly(self) -> bool:
        return self.label == ANOMALY


def judge(scores: np.ndarray, calibration: Calibration, alpha: float) -> list[Verdict]:
    """Verdicts for scores at false-alarm level alpha: anomaly iff score > threshold."""
    scores = np.asarray(scores, np.float64).ravel()
    threshold = calibration.threshold(alpha)
    p = calibration.p_values(scores)
    rank = calibration.distribution.percentile_rank(scores)
    return [Verdict(float(s), float(pv), float(r), float(threshold),
                    ANOMALY if s > threshold else NORMAL)
            for s, pv, r in zip(scores, p, rank)]
