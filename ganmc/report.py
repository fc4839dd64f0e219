"""Static pictures and tables of results, rendered offline (matplotlib's Agg, no browser).

pyplot is never imported: figures are built from ``matplotlib.figure.Figure`` directly, which
is thread-safe and needs no display.
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganmc.calibration import Calibration, ScoreDistribution
from ganmc.montecarlo import MonteCarloResult
from ganmc.verdict import Verdict


def histogram_png(dist: ScoreDistribution, threshold: float, *, title: str,
                  marks: dict[str, float] | None = None, bins: int = 60,
                  size: tuple[float, float] = (8, 4.5), dpi: int = 100) -> bytes:
    """A PNG of the score histogram with the threshold line and optional marked scores."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    ax = fig.add_subplot()
    draw_histogram(ax, dist, threshold, title=title, marks=marks, bins=bins)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def draw_histogram(ax, dist: ScoreDistribution, threshold: float, *, title: str,
                   marks: dict[str, float] | None = None, bins: int = 60,
                   overlay: ScoreDistribution | None = None, overlay_label: str = "",
                   threshold_label: str = "threshold") -> None:
    """Draw the histogram of normal scores, shading the anomaly side of the threshold.

    ``overlay`` (e.g. held-out real digits over generated ones) is drawn as an outline scaled
    to the same total, so the two shapes can be compared.
    """
    values = [dist.min, dist.max, threshold, *(marks or {}).values()]
    if overlay is not None:
        values += [overlay.min, overlay.max]
    finite = [v for v in values if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    pad = 0.03 * (hi - lo or 1.0)
    edges, counts = dist.histogram(bins, (lo - pad, hi + pad))
    centres = (edges[:-1] + edges[1:]) / 2
    colours = np.where(centres > threshold, "#d62728", "#1f77b4")
    ax.bar(centres, counts, width=np.diff(edges), color=colours, alpha=0.8, linewidth=0)
    if overlay is not None:
        _, ocounts = overlay.histogram(bins, (lo - pad, hi + pad))
        scaled = ocounts * (counts.sum() / max(ocounts.sum(), 1))
        ax.step(edges, np.r_[scaled, scaled[-1]], where="post", color="#444444", linewidth=1.5,
                label=overlay_label)
    if np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.5,
                   label=f"{threshold_label} {threshold:.4g}")
    for i, (name, score) in enumerate((marks or {}).items()):
        ax.axvline(score, color=f"C{(i + 2) % 10}", linewidth=2, label=f"{name}: {score:.4g}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)


# ---------------------------------------------------------------------------- the full report
REPORT_SIZE = (1200, 1500)  # pixels: 12 x 15 inches at 100 dpi
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
    """Everything a report shows; built by :func:`build_report_data`."""

    card: dict[str, Any]
    scorer: str
    calibration: Calibration
    percentile: float
    monte_carlo: MonteCarloResult | None
    mc_false_alarm: float | None
    examples: list[ReportImage] = field(default_factory=list)
    images: list[ReportImage] = field(default_factory=list)
    created: str = ""

    @property
    def alpha(self) -> float:
        return 1.0 - self.percentile / 100.0

    @property
    def threshold(self) -> float:
        return self.calibration.threshold(self.alpha)


def report_images(det, names: list[str], x: np.ndarray, *, scorer: str,
                  calibration: Calibration, alpha: float, notes: list[str] | None = None
                  ) -> list[ReportImage]:
    """Verdicts (and reconstructions, where the scorer has them) for named images."""
    if len(x) == 0:
        return []
    verdicts = det.verdicts(x, scorer=scorer, calibration=calibration, alpha=alpha)
    recons = (det.reconstruct(x, scorer=scorer) if det.can_reconstruct(scorer)
              else [None] * len(x))
    notes = notes or [""] * len(x)
    return [ReportImage(n, img, v, r, note)
            for n, img, v, r, note in zip(names, x, verdicts, recons, notes)]


def pick_examples(det, x_test: np.ndarray, y_test: np.ndarray, *, scorer: str,
                  calibration: Calibration, alpha: float, limit: int = 1000
                  ) -> list[ReportImage]:
    """The seed's two panels: a typical normal test image and the most anomalous one.

    The normal example is the test image of a normal digit with the median score; the anomaly
    example is the highest-scoring test image of a digit that is not normal, or, when every
    digit is normal, the highest-scoring test image.
    """
    x, y = x_test[:limit], y_test[:limit]
    scores = det.score_samples(x, scorer=scorer)
    normal = np.isin(y, det.config.digits)
    idx_n = np.flatnonzero(normal)
    i_normal = idx_n[np.argsort(scores[idx_n])[len(idx_n) // 2]]
    pool = np.flatnonzero(~normal) if (~normal).any() else np.arange(len(x))
    i_anom = pool[np.argmax(scores[pool])]
    return report_images(
        det, ["normal test image", "anomalous test image"], x[[i_normal, i_anom]], scorer=scorer,
        calibration=calibration, alpha=alpha,
        notes=[f"true digit {y[i_normal]}", f"true digit {y[i_anom]}"])


def test_split_examples(det, *, scorer: str, calibration: Calibration, alpha: float
                        ) -> list[ReportImage]:
    """:func:`pick_examples` on the bundled digits' fixed test split (always offline)."""
    from ganmc.data import load_mnist

    splits = load_mnist("bundled", det.config.digits)
    return pick_examples(det, splits.x_test, splits.y_test, scorer=scorer,
                         calibration=calibration, alpha=alpha)


def build_report_data(det, *, percentile: float, calibration_source: str = "auto",
                      scorer: str | None = None, monte_carlo: MonteCarloResult | None = None,
                      images: list[tuple[str, np.ndarray]] | None = None,
                      examples: list[ReportImage] | None = None) -> ReportData:
    """Collect a report's contents from a detector and the user's choices."""
    import datetime as dt

    scorer = scorer or det.scorer_
    monte_carlo = monte_carlo or det.monte_carlo_.get(scorer)
    if calibration_source == "monte-carlo" and monte_carlo is not None:
        calibration = monte_carlo.calibration()
    else:
        calibration = det.calibration_for(scorer, calibration_source)
    alpha = 1.0 - percentile / 100.0
    images = images or []
    user = report_images(det, [n for n, _ in images],
                         np.stack([x for _, x in images]) if images else np.zeros((0, 28, 28)),
                         scorer=scorer, calibration=calibration, alpha=alpha)
    far = det.monte_carlo_false_alarm(alpha, scorer=scorer, result=monte_carlo)
    return ReportData(det.card(), scorer, calibration, percentile, monte_carlo, far,
                      examples or [], user,
                      dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def report_summary(data: ReportData) -> dict[str, Any]:
    """The report's numbers, JSON-ready."""
    d = data.calibration.distribution
    out: dict[str, Any] = {
        "created": data.created, "scorer": data.scorer, "calibration": data.calibration.source,
        "percentile": data.percentile, "alpha": data.alpha, "threshold": data.threshold,
        "calibration_n": d.n, "calibration_mean": d.mean, "calibration_std": d.std,
        "calibration_min": d.min, "calibration_max": d.max,
        "monte_carlo_false_alarm_on_holdout": data.mc_false_alarm,
        "model": {"config": data.card.get("config"),
                  "metadata": {k: v for k, v in data.card.get("metadata", {}).items()
                               if k != "history"}},
    }
    if data.monte_carlo is not None:
        out["monte_carlo"] = data.monte_carlo.summary(data.percentile)
    out["images"] = report_rows(data)
    return out


def report_rows(data: ReportData) -> list[dict[str, Any]]:
    """One row per example or user image."""
    return [{"kind": kind, "name": im.name, "note": im.note, "score": im.verdict.score,
             "p_value": im.verdict.p_value, "percentile_rank": im.verdict.percentile_rank,
             "verdict": im.verdict.label}
            for kind, ims in (("example", data.examples), ("image", data.images))
            for im in ims]


def report_png(data: ReportData) -> bytes:
    """Render the report as one PNG of :data:`REPORT_SIZE` pixels, offline (Agg)."""
    from matplotlib.figure import Figure

    w, h = REPORT_SIZE
    fig = Figure(figsize=(w / 100, h / 100), dpi=100)
    grid = fig.add_gridspec(5, 1, height_ratios=[0.5, 3.4, 1.3, 2.2, 2.2], hspace=0.5,
                            left=0.06, right=0.97, top=0.96, bottom=0.03)
    c, m = data.card.get("config", {}), data.card.get("metadata", {})
    fig.suptitle("ganmc anomaly report", fontsize=18, fontweight="bold", x=0.06, ha="left")
    head = fig.add_subplot(grid[0])
    head.axis("off")
    head.text(0, 0.9, f"{data.created}   model: {c.get('arch')}, normal digits "
              f"{_digits(c.get('digits'))}, {c.get('epochs')} epochs on "
              f"{m.get('data_source')} ({m.get('device')}, trained {m.get('trained_at')})",
              fontsize=10, va="top", transform=head.transAxes)
    head.text(0, 0.2, f"scorer {data.scorer}; threshold from {data.calibration.source} "
              f"calibration at the {data.percentile:g}th percentile "
              f"(nominal false-alarm rate {100 * data.alpha:.3g}%)", fontsize=10,
              va="top", transform=head.transAxes)

    ax = fig.add_subplot(grid[1])
    dist = data.monte_carlo.distribution if data.monte_carlo else data.calibration.distribution
    label = (f"Monte Carlo scores of {data.monte_carlo.n:,} generated images"
             if data.monte_carlo else f"scores of {dist.n:,} held-out normal images")
    marks = {im.name[:24]: im.verdict.score for im in data.images[:6]}
    overlay = None
    if data.monte_carlo is not None and data.calibration.source == "holdout":
        overlay = data.calibration.distribution
    draw_histogram(ax, dist, data.threshold, title=label, marks=marks, overlay=overlay,
                   overlay_label=f"held-out real normal images (n = "
                                 f"{overlay.n if overlay else 0:,})",
                   threshold_label=f"{data.calibration.source} threshold")

    txt = fig.add_subplot(grid[2])
    txt.axis("off")
    txt.text(0, 1, "\n".join(_summary_lines(data)), fontsize=10.5, va="top", family="monospace",
             transform=txt.transAxes)

    _image_row(fig, grid[3], data.examples, "Examples from the test split")
    _image_row(fig, grid[4], data.images[:MAX_REPORT_IMAGES],
               "Your images" + (f" (first {MAX_REPORT_IMAGES} of {len(data.images)})"
                                if len(data.images) > MAX_REPORT_IMAGES else ""))
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _digits(digits) -> str:
    return "all" if digits and len(digits) == 10 else ",".join(map(str, digits or []))


def _summary_lines(data: ReportData) -> list[str]:
    d = data.calibration.distribution
    lines = [f"threshold {data.threshold:.5g}   ({data.calibration.source}, n = {d.n:,})"]
    if data.monte_carlo is not None:
        s = data.monte_carlo.summary(data.percentile)
        lo, hi = s["threshold_ci95"]
        lines += [f"Monte Carlo: {s['samples']:,} samples, {data.percentile:g}th percentile "
                  f"{s['threshold']:.5g} (95% CI {lo:.5g} to {hi:.5g})",
                  f"  mean {s['mean']:.5g}  std {s['std']:.5g}  min {s['min']:.5g}  "
                  f"max {s['max']:.5g}"]
    if data.mc_false_alarm is not None:
        lines.append(f"The Monte Carlo threshold flags {100 * data.mc_false_alarm:.1f}% of "
                     f"held-out real normal images (nominal {100 * data.alpha:.3g}%).")
    if data.calibration.source == "holdout":
        lines.append(f"Conformal guarantee: at most {100 * data.alpha:.3g}% of new normal "
                     f"images are flagged, on average.")
    lines.append("Scores above the threshold are ANOMALY, at or below NORMAL; p-value = share "
                 "of normal scores at least as high.")
    return lines


def _image_row(fig, cell, images: list[ReportImage], title: str) -> None:
    if not images:
        ax = fig.add_subplot(cell)
        ax.axis("off")
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
        ax.text(0, 0.5, "none", fontsize=10, transform=ax.transAxes)
        return
    sub = cell.subgridspec(1, max(len(images), 4), wspace=0.35)
    for i, im in enumerate(images):
        ax = fig.add_subplot(sub[i])
        pic = im.image if im.reconstruction is None else np.concatenate(
            [im.image, np.full((28, 2), 128, np.uint8), im.reconstruction], axis=1)
        ax.imshow(pic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        colour = "#d62728" if im.verdict.is_anomaly else "#2ca02c"
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        ax.set_title(f"{im.verdict.label.upper()}", color=colour, fontsize=11, fontweight="bold")
        ax.set_xlabel(f"{im.name[:22]}\nscore {im.verdict.score:.4g}\np = "
                      f"{im.verdict.p_value:.3g}" + (f"\n{im.note}" if im.note else ""),
                      fontsize=8)
        if i == 0:
            ax.text(0, 1.35, title + ("   (left: input, right: reconstruction)"
                                      if im.reconstruction is not None else ""),
                    fontsize=12, fontweight="bold", transform=ax.transAxes)
