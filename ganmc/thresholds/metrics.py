"""Detection metrics computed from scores (higher = more anomalous), without scikit-learn."""

from __future__ import annotations

import numpy as np

from ganmc.core.errors import DataError


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve: P(anomalous score > normal score), ties counted half.

    Computed from ranks (Mann-Whitney U), O(n log n).
    """
    normal, anomalous = _check(normal, anomalous)
    scores = np.concatenate([normal, anomalous])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    n_a, n_n = len(anomalous), len(normal)
    u = ranks[n_n:].sum() - n_a * (n_a + 1) / 2.0
    return float(u / (n_a * n_n))


def average_precision(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Average precision with anomalies as the positive class (step-wise, as scikit-learn)."""
    normal, anomalous = _check(normal, anomalous)
    scores = np.concatenate([normal, anomalous])
    positive = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    # Only the last position of each run of tied scores is a threshold.
    last = np.r_[np.diff(scores) != 0, True]
    tp = np.cumsum(positive)[last]
    fp = np.cumsum(1 - positive)[last]
    precision = tp / (tp + fp)
    recall = tp / len(anomalous)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _check(normal, anomalous):
    normal = np.asarray(normal, np.float64).ravel()
    anomalous = np.asarray(anomalous, np.float64).ravel()
    if len(normal) == 0 or len(anomalous) == 0:
        raise DataError("need at least one normal and one anomalous score")
    return normal, anomalous
