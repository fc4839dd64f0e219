"""Static pictures and tables of results, rendered offline (matplotlib's Agg, no browser).

pyplot is never imported: figures are built from ``matplotlib.figure.Figure`` directly, which
is thread-safe and needs no display.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.calibration import ScoreDistribution


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write a file through a temporary sibling and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
                   marks: dict[str, float] | None = None, bins: int = 60) -> None:
    """Draw the histogram of normal scores, shading the anomaly side of the threshold."""
    values = [dist.min, dist.max, threshold, *(marks or {}).values()]
    finite = [v for v in values if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    pad = 0.03 * (hi - lo or 1.0)
    edges, counts = dist.histogram(bins, (lo - pad, hi + pad))
    centres = (edges[:-1] + edges[1:]) / 2
    colours = np.where(centres > threshold, "#d62728", "#1f77b4")
    ax.bar(centres, counts, width=np.diff(edges), color=colours, alpha=0.8, linewidth=0)
    if np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.5,
                   label=f"threshold {threshold:.4g}")
    for i, (name, score) in enumerate((marks or {}).items()):
        ax.axvline(score, color=f"C{(i + 2) % 10}", linewidth=2, label=f"{name}: {score:.4g}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)


def write_table(path: Path | str, rows: list[dict[str, Any]]) -> Path:
    """Write rows as CSV or JSON (by suffix), atomically."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        data = json.dumps(rows, indent=2).encode()
    else:
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        data = buf.getvalue().encode()
    return atomic_write_bytes(path, data)
