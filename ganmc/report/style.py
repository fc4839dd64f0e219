"""Colours, labels and ranges shared by the PNG report and the dashboard's charts.

Colour means verdict everywhere: red for ANOMALY, green for NORMAL; score bars are blue on
the normal side of the threshold and red beyond it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ganmc.calibration import above
from ganmc.verdict import ANOMALY, NORMAL

ANOMALY_RED = "#d62728"
NORMAL_GREEN = "#2ca02c"
NORMAL_BLUE = "#1f77b4"
OVERLAY_GREY = "#444444"
SCORE_AXIS = "anomaly score (higher = more anomalous)"
#: Share of the score range left empty on each side of a histogram.
PAD = 0.03


class Mark(NamedTuple):
    """An image's line on a histogram: its score and its verdict, which under a per-digit
    calibration comes from its digit's threshold, not from the line the chart draws."""

    score: float
    is_anomaly: bool

    @classmethod
    def of(cls, verdict) -> Mark:
        """The mark of a :class:`ganmc.verdict.Verdict`."""
        return cls(float(verdict.score), bool(verdict.is_anomaly))

    @property
    def word(self) -> str:
        return (ANOMALY if self.is_anomaly else NORMAL).upper()


def verdict_colour(is_anomaly: bool) -> str:
    """Red for an anomaly, green for a normal image."""
    return ANOMALY_RED if is_anomaly else NORMAL_GREEN


def bar_colours(centres: np.ndarray, threshold: float) -> np.ndarray:
    """Bars beyond the threshold red, the others blue."""
    return np.where(above(centres, threshold), ANOMALY_RED, NORMAL_BLUE)


def histogram_range(values: Iterable[float]) -> tuple[float, float]:
    """The x range that shows every finite value given, padded on both sides."""
    finite = [float(v) for v in values if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    pad = PAD * (hi - lo or 1.0)
    return lo - pad, hi + pad


def bars(dist, threshold: float, *, bins: int, marks: dict[str, Mark] | None = None,
         overlay=None, value_range: tuple[float, float] | None = None) -> dict:
    """What a score histogram draws, for matplotlib and Plotly alike: bin ``edges`` and
    ``centres``, ``counts``, bar ``colours``, and the ``overlay``'s counts scaled to the same
    total (None without one), over a range that shows every score, mark and the threshold."""
    if value_range is None:
        values = [dist.min, dist.max, threshold, *(m.score for m in (marks or {}).values())]
        if overlay is not None:
            values += [overlay.min, overlay.max]
        value_range = histogram_range(values)
    edges, counts = dist.histogram(bins, value_range)
    centres = (edges[:-1] + edges[1:]) / 2
    scaled = None
    if overlay is not None:
        _, ocounts = overlay.histogram(bins, value_range)
        scaled = ocounts * (counts.sum() / max(ocounts.sum(), 1))
    return {"edges": edges, "centres": centres, "counts": counts,
            "colours": bar_colours(centres, threshold), "overlay": scaled}
