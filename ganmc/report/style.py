"""Colours, labels, ranges and picture grids shared by the PNG report, the dashboard and
the benchmarks' figures.

Colour means verdict everywhere: red for ANOMALY, green for NORMAL; score bars are blue on
the normal side of the threshold and red beyond it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ganmc.core.scorers import REGISTRY
from ganmc.thresholds.calibration import above
from ganmc.thresholds.verdict import ANOMALY, NORMAL

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
        """The mark of a :class:`ganmc.thresholds.verdict.Verdict`."""
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


#: The share of the scores a histogram always shows, from each end: the bulk, not the
#: farthest tail (one extreme score would squeeze every bar into a sliver of the width).
TAIL = 0.001
#: How far past the bulk (in its own widths) a score or a marked image may lie and still be
#: drawn where it is; one farther off is left out (a mark: drawn at the edge) and said.
REACH = 1.0


def _bulk(dist) -> list[float]:
    """The smallest and largest scores once :data:`TAIL` of them is left at each end (all of
    them when that is less than one score)."""
    k = int(TAIL * dist.n)
    if k < 1:
        return [dist.min, dist.max]
    return [dist.value_at_rank(k + 1), dist.value_at_rank(dist.n - k)]


def histogram_span(dist, threshold: float, marks: dict[str, Mark] | None = None,
                   overlay=None) -> tuple[float, float]:
    """The x range of a score histogram: the bulk of the scores (and of the overlay's), the
    threshold, and the extremes and marks within :data:`REACH` of them; padded."""
    dists = [dist] if overlay is None else [dist, overlay]
    core = [v for d in dists for v in _bulk(d)] + [threshold]
    finite = [float(v) for v in core if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    reach = REACH * (hi - lo or 1.0)
    lo, hi = lo - reach, hi + reach
    extremes = [v for d in dists for v in _within(d, lo, hi)]
    extremes += [m.score for m in (marks or {}).values() if lo <= m.score <= hi]
    return histogram_range([*finite, *extremes])


def _outside(dist, lo: float, hi: float) -> tuple[int, int]:
    """How many scores lie below ``lo`` and above ``hi``."""
    return (dist.n - int(dist.count_at_least(lo)),
            int(dist.count_at_least(np.nextafter(hi, np.inf))))


def _within(dist, lo: float, hi: float) -> list[float]:
    """The smallest and the largest score in [lo, hi] (the distribution's own minimum and
    maximum where they are in it: exact, where a streamed histogram's ranks are not)."""
    below, above = _outside(dist, lo, hi)
    upto = dist.n - above
    if upto <= below:
        return []
    return [dist.min if dist.min >= lo else dist.value_at_rank(below + 1),
            dist.max if dist.max <= hi else dist.value_at_rank(upto)]


def holdout_overlay(scorer: str, holdout) -> tuple[object | None, str]:
    """The held-out real images' scores to draw over a histogram of generated ones (None
    without them), and why they are not drawn where they say nothing: a score that ranks
    every image among the held-out ones (``combined``) gives them, by construction, ranks
    spread evenly from 0 to 1, a flat line whatever the model."""
    if holdout is None or not REGISTRY[scorer].ranks_holdout:
        return holdout, ""
    return None, (f"Held-out real images not drawn: the {scorer} score ranks every image among "
                  f"them, so their own scores lie evenly between 0 and 1.")


def bars(dist, threshold: float, *, bins: int, marks: dict[str, Mark] | None = None,
         overlay=None, value_range: tuple[float, float] | None = None) -> dict:
    """What a score histogram draws, for matplotlib and Plotly alike: bin ``edges`` and
    ``centres``, ``counts``, bar ``colours``, the ``overlay``'s counts scaled to the same
    number of scores (None without one), over :func:`histogram_span` (or ``value_range``);
    ``off`` says in words what lies beyond it ("" when nothing does), and ``placed`` is each
    mark's x (a mark off the chart at the nearer edge; one without a score is left out)."""
    marks = {n: m for n, m in (marks or {}).items() if np.isfinite(m.score)}
    if value_range is None:
        value_range = histogram_span(dist, threshold, marks, overlay)
    lo, hi = value_range
    edges, counts = dist.histogram(bins, value_range)
    centres = (edges[:-1] + edges[1:]) / 2
    scaled = None
    if overlay is not None:
        _, ocounts = overlay.histogram(bins, value_range)
        scaled = ocounts * (dist.n / max(overlay.n, 1))
    placed = {name: float(np.clip(m.score, lo, hi)) for name, m in marks.items()}
    off = [_off(dist, value_range, "scores")]
    if overlay is not None:
        off.append(_off(overlay, value_range, "held-out scores"))
    away = sum(not lo <= m.score <= hi for m in marks.values())
    if away:
        off.append(f"{away} of your images {'lies' if away == 1 else 'lie'} beyond the edge: "
                   f"drawn dotted on it")
    off = [part for part in off if part]
    return {"edges": edges, "centres": centres, "counts": counts,
            "colours": bar_colours(centres, threshold), "overlay": scaled, "placed": placed,
            "off": ("Not drawn: " + "; ".join(off) + ".") if off else ""}


def _off(dist, value_range: tuple[float, float], what: str) -> str:
    """The scores of ``dist`` outside ``value_range``, in words ("" when none is)."""
    lo, hi = value_range
    below, above = _outside(dist, lo, hi)
    # a streamed histogram's counts are rounded: its exact extremes say whether any is out
    above, below = max(above, int(dist.max > hi)), max(below, int(dist.min < lo))
    parts = []
    if above:
        parts.append(f"{above:,} of {dist.n:,} {what} above {hi:.3g} (largest {dist.max:.4g})")
    if below:
        parts.append(f"{below:,} of {dist.n:,} {what} below {lo:.3g} (smallest "
                     f"{dist.min:.4g})")
    return "; ".join(parts)


def image_grid(images: np.ndarray, cols: int = 8, scale: int = 3) -> np.ndarray:
    """uint8 (N, 28, 28) -> one uint8 picture, enlarged without blurring."""
    n = len(images)
    rows = -(-n // cols)
    grid = np.zeros((rows * 30, cols * 30), np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * 30 + 1:r * 30 + 29, c * 30 + 1:c * 30 + 29] = img
    return np.kron(grid, np.ones((scale, scale), np.uint8))


def enlarge(img: np.ndarray, scale: int = 5) -> np.ndarray:
    """A 28x28 picture ``scale`` times larger, each pixel a square (no blurring)."""
    return np.kron(img, np.ones((scale, scale), np.uint8))
