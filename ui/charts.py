"""Plotly figures for the dashboard (the package's PNG report uses matplotlib instead)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import plotly.graph_objects as go

from ganmc.core.presets import TASKS
from ganmc.report import style
from ganmc.thresholds.distribution import ScoreDistribution

#: Up to this many marked images get their name written by their line; more would print over
#: each other, so their names are in the hover text of a dot on each line's top instead.
LABELLED_MARKS = 4


def histogram(dist: ScoreDistribution, threshold: float, *, title: str, bins: int = 60,
              marks: dict[str, style.Mark] | None = None,
              overlay: ScoreDistribution | None = None,
              overlay_name: str = "", value_range: tuple[float, float] | None = None,
              threshold_name: str = "threshold", height: int = 380,
              note: str = "") -> go.Figure:
    """Score histogram, bars coloured by side of the threshold, with marked scores coloured by
    their verdict: a few are labelled with their name and verdict (the labels of neighbours
    stacked), more carry their names as hover text on a dot. The x range is the bulk of the
    scores (:func:`ganmc.report.style.histogram_span`); what lies beyond is said under the
    title (with ``note``), and a mark beyond it is drawn at the edge."""
    marks = marks or {}
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
    labelled = len(marks) <= LABELLED_MARKS
    for i, (name, mark) in enumerate(marks.items()):
        x = b["placed"].get(name)
        if x is None:  # no score to draw
            continue
        fig.add_vline(x=x, line_color=style.verdict_colour(mark.is_anomaly), line_width=3,
                      line_dash="solid" if x == mark.score else "dot",
                      **({"annotation_text": f"{name} ({mark.word})",
                          "annotation_position": "bottom right",
                          "annotation_yshift": 18 * (i % 8)} if labelled else {}))
    if marks and not labelled:
        dot_y = max(float(np.max(b["counts"], initial=0.0)), 1.0)
        for anomalous in (False, True):
            group = [(n, m) for n, m in marks.items()
                     if m.is_anomaly == anomalous and n in b["placed"]]
            if group:
                fig.add_scatter(
                    x=[b["placed"][n] for n, _ in group], y=[dot_y] * len(group),
                    mode="markers", name=f"your images: {group[0][1].word}",
                    marker={"color": style.verdict_colour(anomalous), "size": 9},
                    text=[f"{n}: {m.score:.4g} ({m.word})" for n, m in group],
                    hovertemplate="%{text}<extra></extra>")
    fig.update_layout(**frame(title, height, below=" ".join(t for t in (b["off"], note) if t),
                              min_plot=PLOT_HEIGHT,
                              legend=overlay is not None or (bool(marks) and not labelled)),
                      xaxis_title=style.SCORE_AXIS, yaxis_title="count", bargap=0)
    return fig


def verdict_histogram(decision, monte_carlo, marks: dict[str, style.Mark]) -> go.Figure:
    """The user's images on the Monte Carlo histogram (hold-out scores drawn over it), or on
    the calibration scores when there is no simulation. Under per-digit thresholds the
    dashed line is the pooled threshold and says so (each image's verdict is its digit's
    threshold's). Titles are short: they fit a phone's width."""
    rule = decision.threshold
    name = rule.line_name
    if monte_carlo is not None:
        overlay, note = style.holdout_overlay(decision.scorer, rule.real_scores)
        return histogram(monte_carlo.distribution, rule.value, marks=marks, overlay=overlay,
                         overlay_name="held-out real normal images (scaled)", note=note,
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
    fig.update_layout(**frame("Drift alarm: evidence that these images differ from the "
                              "calibration images", 300),
                      xaxis_title="image (in the order judged)", yaxis_title="evidence (to 1)")
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
    fig.update_layout(**frame("Losses per round", 320, legend=True, left=40),
                      xaxis_title="round", yaxis_title="loss")
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
    lowest = min((v for q in curve for k, v in q.items()
                  if k != "step" and v is not None and math.isfinite(v)), default=0.5)
    fig.update_layout(**frame("Quality while training (AUROC)", 320, legend=True, left=40),
                      xaxis_title="GAN step", yaxis_title="AUROC",
                      yaxis_range=[min(0.5, lowest - 0.03), 1.03])
    return fig


#: Plotly's toolbar stands down the right side of a chart: along its top it covered the
#: titles' ends on a phone.
MODEBAR = {"orientation": "v"}
#: The least height of a histogram's plot area, in pixels, whatever its title and legend.
PLOT_HEIGHT = 220
#: Characters of a title line on a phone-wide chart (about 350 px at the titles' 15 px).
TITLE_WIDTH = 34
#: Pixels from the chart's top edge to the baseline of a title's first line, and from line
#: to line (a note's smaller lines take as much).
TITLE_FIRST, TITLE_LINE = 20, 19


def _lines(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) if text else []


def title_of(text: str, height: int, *, below: str = "") -> dict:
    """A chart title that stays inside a phone-wide chart (about 350 px): a smaller font,
    aligned left, wrapped (Plotly does not wrap titles), with an optional note under it in
    grey. Plotly places a wrapped title's first line at ``y`` whatever its ``yanchor``, so
    ``y`` is that line's place counted from the top of a chart ``height`` pixels high
    (a title at ``y`` near 1 anchored "top" ran off the chart once it was two lines)."""
    lines = _lines(text, TITLE_WIDTH)
    note = [f"<span style='font-size:12px;color:#666'>{line}</span>"
            for line in _lines(below, TITLE_WIDTH + 12)]
    return {"text": "<br>".join(lines + note), "font": {"size": 15}, "x": 0, "xanchor": "left",
            "xref": "paper", "y": 1 - TITLE_FIRST / height, "yanchor": "bottom",
            "yref": "container"}


#: The bottom margin of a chart with its legend under the x axis's title.
LEGEND_BELOW = 95


def legend_below(height: int) -> dict:
    """A horizontal legend under the x axis's title (over the plot it hid the curves' ends
    and the axis title), within :data:`LEGEND_BELOW`'s margin of a chart ``height`` high."""
    return {"orientation": "h", "x": 0, "xanchor": "left", "yref": "container",
            "y": 8 / height, "yanchor": "bottom"}


def frame(title: str, height: int, *, below: str = "", legend: bool = False, left: int = 50,
          min_plot: int = 0) -> dict:
    """A chart's layout around its plot, for ``fig.update_layout``: the title (and the note
    under it) inside the chart, the toolbar down the side, the legend (if ``legend``) under
    the x axis's title, and a height of at least ``height`` that leaves the plot at least
    ``min_plot`` pixels."""
    top, bottom = top_margin(title, below), LEGEND_BELOW if legend else 40
    height = max(height, top + bottom + min_plot)  # a long note keeps the plot's height
    return {"modebar": MODEBAR, "title": title_of(title, height, below=below),
            "height": height, "showlegend": legend, "legend": legend_below(height),
            "margin": {"l": left, "r": 20, "t": top, "b": bottom}}


def top_margin(text: str, below: str = "") -> int:
    """The top margin that holds :func:`title_of`'s lines and, under them, the threshold's
    label above the plot."""
    lines = len(_lines(text, TITLE_WIDTH)) + len(_lines(below, TITLE_WIDTH + 12))
    return TITLE_FIRST + 8 + TITLE_LINE * lines


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
