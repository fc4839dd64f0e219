"""Drawing the report and histograms as PNG, offline (matplotlib's Agg, no browser).

pyplot is never imported: figures are built from ``matplotlib.figure.Figure`` directly, which
is thread-safe and needs no display.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np

from ganmc.core.config import DIGITS, FRAMING_WORDS
from ganmc.core.naming import Names
from ganmc.report import style
from ganmc.report.data import MAX_REPORT_IMAGES, ReportData, ReportImage
from ganmc.storage.cardtext import training_text, when_text
from ganmc.thresholds.distribution import ScoreDistribution, percent
from ganmc.thresholds.guarantees import WAY_OUT
from ganmc.thresholds.quality import summary_line

REPORT_SIZE = (1200, 1500)  # pixels: 12 x 15 inches at 100 dpi
#: Characters of the summary's monospaced lines that fit across the report (longer ones wrap).
SUMMARY_WIDTH = 132
#: Image columns of a row in the report (fewer images leave columns empty).
IMAGE_COLUMNS = 5


def histogram_png(dist: ScoreDistribution, threshold: float, *, title: str,
                  marks: dict[str, style.Mark] | None = None, bins: int = 60,
                  size: tuple[float, float] = (8, 4.5), dpi: int = 100) -> bytes:
    """A PNG of the score histogram with the threshold line and optional marked scores."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    ax = fig.add_subplot()
    draw_histogram(ax, dist, threshold, title=title, marks=marks, bins=bins)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def draw_histogram(ax, dist: ScoreDistribution, threshold: float, *, title: str,
                   marks: dict[str, style.Mark] | None = None, bins: int = 60,
                   overlay: ScoreDistribution | None = None, overlay_label: str = "",
                   threshold_label: str = "threshold", note: str = "") -> None:
    """Draw the histogram of normal scores, shading the anomaly side of the threshold.

    ``marks`` (name -> :class:`~ganmc.report.style.Mark`) are drawn as lines coloured by
    their verdict.

    ``overlay`` (e.g. held-out real digits over generated ones) is drawn as an outline scaled
    to the same total, so the two shapes can be compared. ``note`` (what is not drawn, and
    why) is a row of the legend.
    """
    b = style.bars(dist, threshold, bins=bins, marks=marks, overlay=overlay)
    ax.bar(b["centres"], b["counts"], width=np.diff(b["edges"]), color=b["colours"], alpha=0.8,
           linewidth=0)
    if b["overlay"] is not None:
        ax.step(b["edges"], np.r_[b["overlay"], b["overlay"][-1]], where="post",
                color=style.OVERLAY_GREY, linewidth=1.5, label=overlay_label)
    if np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.5,
                   label=f"{threshold_label} {threshold:.4g}")
    for name, mark in (marks or {}).items():  # colour = verdict; the name is in the legend
        x = b["placed"].get(name)  # one off the chart is drawn dotted at its edge
        if x is None:  # no score to draw
            continue
        ax.axvline(x, color=style.verdict_colour(mark.is_anomaly), linewidth=2,
                   linestyle="-" if x == mark.score else ":",
                   label=f"{name}: {mark.score:.4g} ({mark.word})")
    for words in (b["off"], note):  # a legend row, without a line: over the plot it hid bars
        if words:
            ax.plot([], [], " ", label=textwrap.fill(words, 48))
    ax.set_xlabel(style.SCORE_AXIS)
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)


def report_png(data: ReportData) -> bytes:
    """Render the report as one PNG of :data:`REPORT_SIZE` pixels, offline (Agg)."""
    buf = io.BytesIO()
    report_figure(data).savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def report_figure(data: ReportData):
    """The report as a matplotlib ``Figure`` (what :func:`report_png` saves)."""
    from matplotlib.figure import Figure

    w, h = REPORT_SIZE
    fig = Figure(figsize=(w / 100, h / 100), dpi=100)
    grid = fig.add_gridspec(5, 1, height_ratios=[0.5, 2.6, 2.7, 1.9, 1.9], hspace=0.55,
                            left=0.08, right=0.97, top=0.96, bottom=0.05)
    c, m = data.card.get("config", {}), data.card.get("metadata", {})
    fig.suptitle("ganmc anomaly report", fontsize=18, fontweight="bold", x=0.06, ha="left")
    head = fig.add_subplot(grid[0])
    head.axis("off")
    head.text(0, 1.0, f"{data.created}   model: {c.get('arch')}, {_normal_text(data.card)}, "
              f"trained on {m.get('data_source')} "
              f"({m.get('device')}, {when_text(m.get('trained_at'))})",
              fontsize=10, va="top", transform=head.transAxes)
    head.text(0, 0.55, training_text(data.card), fontsize=10, va="top",
              transform=head.transAxes)
    head.text(0, 0.1, f"scorer {data.scorer}; threshold from {data.rule.source} "
              f"calibration at the {data.level.percentile:g}th percentile "
              f"(nominal false-alarm rate {data.level.percent})", fontsize=10,
              va="top", transform=head.transAxes)

    if data.drift is not None and data.drift.n:
        top = grid[1].subgridspec(1, 2, width_ratios=[2.4, 1], wspace=0.18)
        ax = fig.add_subplot(top[0])
        draw_drift(fig.add_subplot(top[1]), data.drift)
    else:
        ax = fig.add_subplot(grid[1])
    dist = data.monte_carlo.distribution if data.monte_carlo else data.rule.distribution
    label = (f"Monte Carlo scores of {data.monte_carlo.n:,} generated images"
             if data.monte_carlo else f"scores of {dist.n:,} held-out normal images")
    shown = data.images[:MAX_REPORT_IMAGES]
    marks = _marks(shown)
    if len(data.images) > len(shown):
        label += f"; the first {len(shown)} of your {len(data.images)} images marked"
    overlay, note = style.holdout_overlay(
        data.scorer, data.rule.real_scores if data.monte_carlo is not None else None)
    draw_histogram(ax, dist, data.threshold, title=label, marks=marks, overlay=overlay, note=note,
                   overlay_label=f"held-out real normal images (n = "
                                 f"{overlay.n if overlay else 0:,})",
                   threshold_label=data.rule.line_name
                   + (" (each image: its own, below)" if data.rule.per_digit else ""))

    txt = fig.add_subplot(grid[2])
    txt.axis("off")
    txt.text(0, 1, "\n".join(_wrapped(_summary_lines(data))), fontsize=9, va="top",
             family="monospace", transform=txt.transAxes)

    _image_row(fig, grid[3], data.examples,
               "Examples: the model's own held-out pictures" if m.get("own_images")
               else "Examples from the test split")
    _image_row(fig, grid[4], shown,
               "Your images" + (f" (first {len(shown)} of {len(data.images)})"
                                if len(data.images) > len(shown) else ""))
    return fig


def _marks(images: list[ReportImage]) -> dict[str, style.Mark]:
    """Each image's score as a line of the histogram, under its name (cut to 24 characters;
    a name met twice gets its place in the row, so that no image's line is lost)."""
    marks: dict[str, style.Mark] = {}
    for i, im in enumerate(images, 1):
        name = im.name[:24]
        marks[name if name not in marks else f"{name} (#{i})"] = style.Mark.of(im.verdict)
    return marks


def draw_drift(ax, drift) -> None:
    """The drift alarm's martingale after each image (log scale), with the level that sets
    it off and, if it went off, where."""
    x = np.arange(1, drift.n + 1)
    colour = style.verdict_colour(drift.fired)
    ax.plot(x, drift.values, color=colour, marker="o" if drift.n <= 40 else None,
            markersize=3, linewidth=1.5)
    ax.axhline(drift.level, color="black", linestyle="--", linewidth=1.2,
               label=f"alarm at {drift.level:,.0f}")
    ax.axhline(1.0, color=style.OVERLAY_GREY, linewidth=0.8)
    if drift.fired:
        ax.axvline(drift.alarm_at, color=colour, linestyle=":", linewidth=1.2,
                   label=f"alarm at image {drift.alarm_at}")
    ax.set_yscale("log")
    low = min(float(drift.values.min()), 0.1)
    ax.set_ylim(low / 2, max(float(drift.values.max()), drift.level) * 3)
    ax.set_xlim(0.5, max(drift.n, 2) + 0.5)
    ax.set_xlabel("image (in order)")
    ax.set_ylabel("evidence of drift")
    ax.set_title("Drift alarm: " + ("went off" if drift.fired else "quiet"), color=colour)
    ax.legend(loc="upper left", fontsize=8)


def _digits(digits) -> str:
    return "all" if digits and len(digits) == 10 else ",".join(map(str, digits or []))


def _normal_text(card: dict) -> str:
    """What the model's normal images are, and how pictures are framed for it."""
    c, m = card.get("config", {}), card.get("metadata", {})
    names = Names.of_card(card)
    framing = FRAMING_WORDS.get(card.get("framing") or DIGITS, "?")
    if names.named:
        return f"normal classes {names.listed(c.get('digits'))} ({framing} framing)"
    if m.get("own_images"):
        return f"normal: one class of pictures ({framing} framing)"
    return f"normal digits {names.listed(c.get('digits'))}"


def _summary_lines(data: ReportData) -> list[str]:
    d = data.rule.distribution
    names = Names.of_card(data.card)
    if data.rule.per_digit and data.per_digit:
        lines = [f"{data.rule.describe(tuple(data.per_digit), names)}   (n = {d.n:,}; each "
                 f"image is judged by its {names.noun}'s)"]
    else:
        lines = [f"threshold {data.threshold:.5g}   ({data.rule.source}, n = {d.n:,})"]
    if data.monte_carlo is not None:
        s = data.monte_carlo.summary(data.level)
        lo, hi = s["threshold_ci95"]
        lines += [f"Monte Carlo: {s['samples']:,} samples, {data.level.percentile:g}th "
                  f"percentile "
                  f"{s['threshold']:.5g} (95% CI {lo:.5g} to {hi:.5g})",
                  f"  mean {s['mean']:.5g}  std {s['std']:.5g}  min {s['min']:.5g}  "
                  f"max {s['max']:.5g}"]
    if data.ks is not None:
        lines.append("Monte Carlo against real: " + data.ks.words())
    elif data.mc_false_alarm is not None:
        lines.append(f"The Monte Carlo threshold flags {percent(data.mc_false_alarm, '.1f')} of "
                     f"held-out real normal images (nominal {data.level.percent}).")
    lines.append(f"Promise of the {data.rule.source} threshold: "
                 f"{data.rule.promise().replace('digit', names.noun)}.")
    lines += _per_digit_lines(data)
    if data.drift is not None:
        lines.append(f"Your images: {data.drift.words()}"
                     + (f" {WAY_OUT}" if data.drift.fired else ""))
    if data.fdr is not None:
        lines.append("Your images as a batch: " + data.fdr.words())
    lines.append("Scores above the threshold are ANOMALY, at or below NORMAL; p-value = share "
                 "of normal scores at least as high.")
    lines.append(summary_line(data.card.get("quality")))
    return lines


def _wrapped(lines: list[str]) -> list[str]:
    """Lines cut to :data:`SUMMARY_WIDTH` characters, each keeping its indent and the parts
    after the first indented further."""
    out = []
    for line in lines:
        lead = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line.lstrip(), SUMMARY_WIDTH, initial_indent=lead,
                             subsequent_indent=lead + "    ") or [""]
    return out


def _per_digit_lines(data: ReportData) -> list[str]:
    """The held-out false alarms per digit in one or two lines (``*``: the digit falls back
    to the pooled threshold); none without per-digit Gaussians."""
    if not data.per_digit:
        return []
    names = Names.of_card(data.card)
    cells = [f"{names.name(d)} {percent(v['false_alarm_rate'], '.1f')}"
             + ("*" if v["pooled"] and data.rule.per_digit else "")
             if v["false_alarm_rate"] is not None else f"{names.name(d)} -"
             for d, v in data.per_digit.items()]
    n = sum(v["n"] for v in data.per_digit.values())
    head = f"False alarms per {names.noun} on {n:,} normal images kept out of training: "
    pooled = any(c.endswith("*") for c in cells)
    tail = "  (* pooled threshold: too few images)" if pooled else ""
    if len(cells) <= 5:
        return [head + "  ".join(cells) + tail]
    return [head, "  " + "  ".join(cells) + tail]


def _image_row(fig, cell, images: list[ReportImage], title: str) -> None:
    if not images:
        ax = fig.add_subplot(cell)
        ax.axis("off")
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
        ax.text(0, 0.5, "none", fontsize=10, transform=ax.transAxes)
        return
    sub = cell.subgridspec(1, max(len(images), IMAGE_COLUMNS), wspace=0.35)
    for i, im in enumerate(images):
        ax = fig.add_subplot(sub[i])
        pic = im.image if im.reconstruction is None else np.concatenate(
            [im.image, np.full((28, 2), 128, np.uint8), im.reconstruction], axis=1)
        ax.imshow(pic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        colour = style.verdict_colour(im.verdict.is_anomaly)
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        ax.set_title(f"{im.verdict.label.upper()}", color=colour, fontsize=11, fontweight="bold")
        ax.set_xlabel(f"{im.name[:26]}\nscore {im.verdict.score:.4g}\np = "
                      f"{im.verdict.p_value:.3g}"
                      + ("\n" + im.verdict.taken_for if im.verdict.digit is not None
                         else "")
                      + (f"\n{im.note}" if im.note else ""),
                      fontsize=8)
        if i == 0:  # above the verdict labels whatever the images' size: an offset in points
            ax.annotate(title + ("   (left: input, right: reconstruction)"
                                 if im.reconstruction is not None else ""),
                        xy=(0, 1), xycoords="axes fraction", xytext=(0, 24),
                        textcoords="offset points", fontsize=12, fontweight="bold",
                        gid="row-heading")
