"""Plotly figures for the dashboard (the package's PNG report uses matplotlib instead)."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go

from ganmc.calibration import ScoreDistribution
from ganmc.presets import TASKS
from ganmc.report import style


def histogram(dist: ScoreDistribution, threshold: float, *, title: str, bins: int = 60,
              marks: dict[str, style.Mark] | None = None,
              overlay: ScoreDistribution | None = None,
              overlay_name: str = "", value_range: tuple[float, float] | None = None,
              threshold_name: str = "threshold") -> go.Figure:
    """Score histogram, bars coloured by side of the threshold, with marked scores coloured by
    their verdict (the name and verdict in the label; the labels of neighbouring marks are
    stacked so that they do not print over each other)."""
    b = style.bars(dist, threshold, bins=bins, marks=marks, overlay=overlay,
                   value_range=value_range)
    fig = go.Figure()
    fig.add_bar(x=b["centres"], y=b["counts"], width=np.diff(b["edges"]), name="scores",
                marker_color=b["colours"],
                hovertemplate="score %{x:.4g}<br>count %{y:,.0f}<extra></extra>")
    if b["overlay"] is not None:
        fig.add_scatter(x=b["centres"], y=b["overlay"], mode="lines", line_shape="hvh",
                        name=overlay_name, line={"color": style.OVERLAY_GREY, "width": 2})
    if np.isfinite(threshold):
        fig.add_vline(x=threshold, line_dash="dash", line_color="black",
                      annotation_text=f"{threshold_name} {threshold:.4g}",
                      annotation_position="top")
    for i, (name, mark) in enumerate((marks or {}).items()):
        fig.add_vline(x=mark.score, line_color=style.verdict_colour(mark.is_anomaly),
                      line_width=3, annotation_text=f"{name} ({mark.word})",
                      annotation_position="bottom right", annotation_yshift=18 * (i % 8))
    fig.update_layout(title=title_of(title), xaxis_title=style.SCORE_AXIS,
                      yaxis_title="count", bargap=0, height=380, showlegend=overlay is not None,
                      margin={"l": 50, "r": 20, "t": 70, "b": 40},
                      legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right"})
    return fig


def verdict_histogram(decision, monte_carlo, marks: dict[str, style.Mark]) -> go.Figure:
    """The user's images on the Monte Carlo histogram (hold-out scores drawn over it), or on
    the calibration scores when there is no simulation. Under per-digit thresholds the
    dashed line is the pooled threshold and says so (each image's verdict is its digit's
    threshold's). Titles are short: they fit a phone's width."""
    rule = decision.threshold
    name = "pooled threshold" if rule.per_digit else "threshold"
    if monte_carlo is not None:
        return histogram(monte_carlo.distribution, rule.value, marks=marks,
                         overlay=rule.distribution if rule.source == "holdout" else None,
                         overlay_name="held-out real normal images (scaled)",
                         threshold_name=name,
                         title=f"Your images among {monte_carlo.n:,} generated scores")
    return histogram(rule.distribution, rule.value, marks=marks, threshold_name=name,
                     title=f"Your images on the {rule.source} scores")


def drift_curve(drift) -> go.Figure:
    """The drift alarm's martingale after each image of the session (log scale), with the
    level that sets it off and, once it has gone off, the image where it did."""
    x = np.arange(1, drift.n + 1)
    colour = style.verdict_colour(drift.fired)
    fig = go.Figure()
    fig.add_scatter(x=x, y=drift.values, mode="lines+markers", name="evidence",
                    line={"color": colour, "width": 2}, marker={"size": 5},
                    hovertemplate="image %{x}<br>evidence %{y:.3g} to 1<extra></extra>")
    fig.add_hline(y=drift.level, line_dash="dash", line_color="black",
                  annotation_text=f"alarm at {drift.level:,.0f} to 1",
                  annotation_position="top left")
    if drift.fired:
        fig.add_vline(x=drift.alarm_at, line_dash="dot", line_color=colour)
    low = min(float(drift.values.min()), 0.1)
    high = max(float(drift.values.max()), drift.level)
    fig.update_yaxes(type="log", range=[np.log10(low) - 0.3, np.log10(high) + 0.5])
    fig.update_xaxes(**whole_numbers(1, max(drift.n, 2)))
    fig.update_layout(title=title_of("Drift alarm: evidence that these images differ from "
                                     "the calibration images"),
                      xaxis_title="image (in the order judged)",
                      yaxis_title="evidence (to 1)", height=300, showlegend=False,
                      margin={"l": 50, "r": 20, "t": 70, "b": 40})
    return fig


def history_of(events) -> tuple[dict[str, list[float]], np.ndarray | None, list[dict]]:
    """Loss curves, the latest generated samples and the live quality curve from a training
    job's kept reports."""
    history: dict[str, list[float]] = {}
    samples = None
    curve = []
    for e in events:
        for k, v in e.logs.items():
            history.setdefault(k, []).append(v)
        if e.samples is not None:
            samples = e.samples
        if e.quality:
            curve.append(e.quality)
    return history, samples, curve


def loss_curves(history: dict[str, list[float]]) -> go.Figure:
    """Discriminator and generator (and D's extra tasks, encoder) losses per round."""
    fig = go.Figure()
    for key, name in (("d_loss", "discriminator"), ("g_loss", "generator"),
                      *((task.loss, task.words) for task in TASKS.values()),
                      ("e_loss", "encoder")):
        if history.get(key):
            fig.add_scatter(x=list(range(1, len(history[key]) + 1)), y=history[key],
                            mode="lines+markers", name=name)
    rounds = max((len(v) for v in history.values()), default=1)
    fig.update_xaxes(**whole_numbers(1, rounds))
    fig.update_layout(title=title_of("Losses per round"), xaxis_title="round", yaxis_title="loss",
                      height=320, margin={"l": 40, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def quality_curve(curve: list[dict[str, float]]) -> go.Figure:
    """The live quality curve: AUROC of each test set against held-out normal images, by
    GAN step (a Gaussian over the discriminator's features, refitted each round)."""
    fig = go.Figure()
    steps = [q["step"] for q in curve]
    for name in (k for k in curve[-1] if k != "step"):
        fig.add_scatter(x=steps, y=[q.get(name) for q in curve], mode="lines+markers",
                        name=name)
    fig.update_xaxes(**whole_numbers(0, max(steps)))
    fig.update_layout(title=title_of("Quality while training (AUROC)"), xaxis_title="GAN step",
                      yaxis_title="AUROC", yaxis_range=[0.5, 1.01], height=320,
                      margin={"l": 40, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def title_of(text: str, width: int = 34) -> dict:
    """A chart title that stays inside a phone-wide chart (about 350 px): a smaller font,
    aligned left, on two lines when long (Plotly does not wrap titles)."""
    return {"text": "<br>".join(textwrap.wrap(text, width)), "font": {"size": 15}, "x": 0,
            "xanchor": "left", "xref": "paper", "y": 0.98, "yanchor": "top",
            "yref": "container"}


def whole_numbers(low: int, high: int) -> dict:
    """An x axis of counts (rounds, steps) from ``low`` to ``high``: whole-number ticks only,
    and the whole span from the start even while there is one point (Plotly would zoom to a
    sliver around it, ticked 95.5, 96, 96.5)."""
    span = max(high - low, 1)
    raw = span / 8  # about eight ticks, each a round 1, 2 or 5 times a power of ten
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if raw <= m * power)
    return {"range": [low - 0.03 * span, high + 0.03 * span], "tickformat": ",d",
            "dtick": max(1, int(step))}


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
    return np.kron(img, np.ones((scale, scale), np.uint8))
