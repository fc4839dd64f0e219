"""The report's contents: numbers, images and verdicts, ready to draw or to write as JSON.

Nothing here computes a score or loads data: :func:`ganmc.app.service.build_report` fills a
:class:`ReportData`; :mod:`ganmc.report.render` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganmc.core.naming import Names
from ganmc.thresholds.calibration import Threshold
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.guarantees import BatchFdr, DriftAlarm, KsReading
from ganmc.thresholds.montecarlo import MonteCarloResult
from ganmc.thresholds.verdict import Verdict, columns

#: Most user images drawn in the PNG (the JSON and CSV list them all).
MAX_REPORT_IMAGES = 12


@dataclass
class ReportImage:
    """One image in a report: what the model saw, and what it said."""

    name: str
    image: np.ndarray  # uint8 (28, 28)
    verdict: Verdict
    reconstruction: np.ndarray | None = None
    note: str = ""


@dataclass
class ReportData:
    """Everything a report shows."""

    card: dict[str, Any]
    scorer: str
    rule: Threshold
    monte_carlo: MonteCarloResult | None
    mc_false_alarm: float | None
    examples: list[ReportImage] = field(default_factory=list)
    images: list[ReportImage] = field(default_factory=list)
    created: str = ""
    notes: list[str] = field(default_factory=list)
    #: Per digit, the held-out images' false alarms at the threshold
    #: (:func:`ganmc.app.service.holdout_rates_by_digit`); empty without per-digit Gaussians.
    per_digit: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The drift alarm over the user's images, in order (None without images or held-out
    #: scores to compare with).
    drift: DriftAlarm | None = None
    #: Benjamini-Hochberg over the user's images' p-values (two images or more).
    fdr: BatchFdr | None = None
    #: The Monte Carlo scores against the held-out real ones (None without both).
    ks: KsReading | None = None

    @property
    def level(self) -> Level:
        return self.rule.level

    @property
    def threshold(self) -> float:
        """The threshold as one number (for ``per-digit``, the pooled one; each image's own
        is in its verdict)."""
        return self.rule.value


def example_indices(scores: np.ndarray, labels: np.ndarray, normal_digits
                    ) -> tuple[int, int, bool]:
    """The seed's two panels: a typical normal test image and the most anomalous one, and
    whether that one is an anomaly.

    The normal example is the image of a normal digit with the median score; the anomaly is
    the highest-scoring image of a digit that is not normal or, when every digit is normal,
    the highest-scoring image (the least typical normal one: False).
    """
    normal = np.isin(labels, list(normal_digits))
    idx_n = np.flatnonzero(normal)
    i_normal = idx_n[np.argsort(scores[idx_n])[len(idx_n) // 2]]
    anomalies = bool((~normal).any())
    pool = np.flatnonzero(~normal) if anomalies else np.arange(len(scores))
    return int(i_normal), int(pool[np.argmax(scores[pool])]), anomalies


def summary(data: ReportData) -> dict[str, Any]:
    """The report's numbers, JSON-ready."""
    d = data.rule.distribution
    out: dict[str, Any] = {
        "created": data.created, "scorer": data.scorer, "calibration": data.rule.source,
        "percentile": data.level.percentile, "alpha": data.level.alpha,
        "threshold": data.threshold, "calibration_n": d.n, "calibration_mean": d.mean,
        "calibration_std": d.std, "calibration_min": d.min, "calibration_max": d.max,
        "monte_carlo_false_alarm_on_holdout": data.mc_false_alarm, "notes": data.notes,
        "model": {"config": data.card.get("config"),
                  "metadata": {k: v for k, v in data.card.get("metadata", {}).items()
                               if k not in ("history", "quality_curve")},
                  "quality": data.card.get("quality")},
    }
    if data.per_digit:
        out["per_digit"] = {str(d): v for d, v in data.per_digit.items()}
    if data.monte_carlo is not None:
        out["monte_carlo"] = data.monte_carlo.summary(data.level)
    out["promise"] = data.rule.promise()
    if data.rule.delta is not None:
        out["pac_delta"] = data.rule.delta
    out["monte_carlo_against_real"] = None if data.ks is None else data.ks.summary()
    out["drift"] = None if data.drift is None else data.drift.summary()
    out["fdr"] = None if data.fdr is None else data.fdr.summary()
    out["images"] = rows(data)
    return out


def rows(data: ReportData) -> list[dict[str, Any]]:
    """One row per example or user image: ``kind, name, note`` and then the verdict's columns as
    every table of verdicts has them (:func:`ganmc.thresholds.verdict.columns`: the Detect page's
    CSV has the same after its ``name``); user images under a batch's false discovery rate have
    ``fdr_verdict`` too, examples an empty one."""
    flagged = data.fdr.flagged if data.fdr is not None else None
    names = Names.of_card(data.card)
    out = [{"kind": kind, "name": im.name, "note": im.note, **columns(im.verdict, names)}
           for kind, ims in (("example", data.examples), ("image", data.images))
           for im in ims]
    if flagged is not None:
        for row, f in zip(out, [None] * len(data.examples) + list(flagged)):
            row["fdr_verdict"] = "" if f is None else ("anomaly" if f else "normal")
    return out
