"""How well a decision separates normal images from anomalies: the figures of ``ganmc
evaluate``, the per-digit false-alarm table of the Detect page and the report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ganmc.thresholds import metrics
from ganmc.thresholds.calibration import as_json_threshold
from ganmc.thresholds.decision import Decision
from ganmc.thresholds.distribution import Level, percent

if TYPE_CHECKING:
    from ganmc.model.detector import Detector

def evaluate(det: Detector, normal: np.ndarray, anomalous: np.ndarray, decision: Decision
             ) -> dict[str, Any]:
    """AUROC, average precision, and false-alarm and detection rates at the threshold."""
    s_n = det.score_samples(normal, scorer=decision.scorer)
    s_a = det.score_samples(anomalous, scorer=decision.scorer)
    rule = decision.threshold
    d_n = det.predict_digit(normal)
    flags = rule.flags(s_n, d_n)
    r = {"scorer": decision.scorer, "calibration": rule.source, "alpha": rule.level.alpha,
         "threshold": as_json_threshold(rule.value),
         "threshold_words": rule.describe(det.config.digits, det.names),
         "n_normal": len(s_n), "n_anomalous": len(s_a),
         "auroc": metrics.auroc(s_n, s_a),
         "average_precision": metrics.average_precision(s_n, s_a),
         "false_alarm_rate": float(np.mean(flags)),
         "detection_rate": float(np.mean(rule.flags(s_a, det.predict_digit(anomalous)))),
         "by_digit": {}, "holdout_by_digit": holdout_rates_by_digit(det, decision)}
    if d_n is not None:
        r["by_digit"] = {int(d): {"n": int(np.sum(d_n == d)),
                                  "false_alarm_rate": float(flags[d_n == d].mean())}
                         for d in np.unique(d_n)}
    return r


def holdout_rates_by_digit(det: Detector, decision: Decision) -> dict[int, dict[str, Any]]:
    """Per digit the held-out images are taken for: how many, their threshold, the share of
    them it flags, and whether the digit is judged by the pooled threshold (too few images,
    or a threshold that is not per digit). Empty for a model without per-digit Gaussians or
    held-out digits."""
    digits = det.holdout_digits_.get(decision.scorer)
    scores = det.holdout_scores_.get(decision.scorer)
    if digits is None or scores is None:
        return {}
    rule = decision.threshold
    pooled = set(rule.fallbacks(det.config.digits)) if rule.per_digit else set(
        det.config.digits)
    thresholds = rule.by_digit(det.config.digits)
    flags = rule.flags(scores, digits)
    out = {}
    for d in det.config.digits:
        mine = digits == d
        out[int(d)] = {"n": int(mine.sum()), "threshold": as_json_threshold(thresholds[int(d)]),
                       "false_alarm_rate": float(flags[mine].mean()) if mine.any() else None,
                       "pooled": d in pooled}
    return out


def far_from_nominal(rate: float, level: Level) -> str:
    """How far a measured false-alarm rate is from the nominal one, in one consistent way."""
    gap = 100 * (rate - level.alpha)
    word = "above" if gap > 0 else "below"
    return (f"{percent(rate, '.1f')} against the nominal {level.percent} "
            f"({abs(gap):.1f} points {word})")
