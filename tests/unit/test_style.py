"""Colour means verdict, in the dashboard's charts and in the PNG report alike."""

import re

import numpy as np
import pytest

from ganmc.report import style
from ganmc.thresholds.distribution import Level, ScoreDistribution


def _dist():
    return ScoreDistribution.from_scores(np.random.default_rng(0).normal(size=500))


#: Marks whose verdicts are not the side of the drawn line they lie on (as under per-digit
#: thresholds): "low" is below the line yet an anomaly, "high" above it yet normal.
MARKS = {"low": style.Mark(0.0, True), "high": style.Mark(2.5, False)}


def test_dashboard_marks_are_coloured_by_verdict():
    from ui import charts

    fig = charts.histogram(_dist(), 1.0, title="t", marks=MARKS)
    colours = {a["text"]: s["line"]["color"]
               for s, a in zip(fig.layout.shapes[1:], fig.layout.annotations[1:])}
    assert colours == {"low (ANOMALY)": style.ANOMALY_RED, "high (NORMAL)": style.NORMAL_GREEN}
    shifts = [a["yshift"] for a in fig.layout.annotations[1:]]
    assert len(set(shifts)) == 2  # the two labels are not printed over each other


def test_report_marks_are_coloured_by_verdict():
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from ganmc.report.render import draw_histogram

    ax = Figure().add_subplot()
    draw_histogram(ax, _dist(), 1.0, title="t", marks=MARKS)
    by_label = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
    assert by_label["low: 0 (ANOMALY)"] == style.ANOMALY_RED
    assert by_label["high: 2.5 (NORMAL)"] == style.NORMAL_GREEN


def test_distance_from_the_nominal_rate_is_said_one_way():
    from ganmc.app.evaluation import far_from_nominal

    level = Level.from_percentile(95)
    assert far_from_nominal(0.071, level) == "7.1 % against the nominal 5 % (2.1 points above)"
    assert far_from_nominal(0.018, Level.from_percentile(99)) == \
        "1.8 % against the nominal 1 % (0.8 points above)"
    assert far_from_nominal(0.03, level).endswith("(2.0 points below)")


def test_level_converts_percentile_and_alpha_once():
    assert Level.from_percentile(95).alpha == 0.05
    assert Level(0.01).percentile == 99
    assert str(Level.from_percentile(97.5)) == "97.5th percentile (2.5 % false alarms)"


def test_level_takes_numpy_numbers():
    assert Level(np.float32(0.05)).alpha == pytest.approx(0.05)
    assert isinstance(Level(np.float64(0.1)).alpha, float)


def test_writing_onto_a_folder_is_one_clear_error(tmp_path):
    from ganmc.core.errors import StorageError
    from ganmc.core.files import atomic_write_bytes

    (tmp_path / "out").mkdir()
    with pytest.raises(StorageError, match="is a folder"):
        atomic_write_bytes(tmp_path / "out", b"x")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot write"):
        atomic_write_bytes(blocker / "sub" / "a.csv", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]  # no temporary left


def test_training_charts_count_in_whole_numbers_from_the_start():
    from ui import charts

    quality = charts.quality_curve([{"step": 96, "noise": 0.9}])
    assert quality.layout.xaxis.range[0] < 0 < 96 < quality.layout.xaxis.range[1]
    assert quality.layout.xaxis.dtick >= 1 and quality.layout.xaxis.dtick == int(
        quality.layout.xaxis.dtick)
    losses = charts.loss_curves({"d_loss": [1.0, 0.9], "g_loss": [0.7, 0.8]})
    assert losses.layout.xaxis.dtick == 1 and losses.layout.xaxis.tickformat == ",d"


def test_the_reports_long_lines_wrap_under_their_own_indent():
    from ganmc.report.render import SUMMARY_WIDTH, _wrapped

    lines = _wrapped(["  " + " ".join(["word"] * 80), "short"])
    assert all(len(line) <= SUMMARY_WIDTH for line in lines)
    assert lines[0].startswith("  word") and not lines[0].startswith("   ")
    assert all(line.startswith("      word") and not line.startswith("       ")
               for line in lines[1:-1])
    assert lines[-1] == "short"


# ------------------------------------------------------------- issue 35, item 4: charts
def test_one_extreme_score_does_not_squeeze_the_histogram():
    """The x range is the bulk of the scores: one score far out is said, not drawn, and a
    mark beyond the edge is drawn at it (and said); without them everything is drawn."""
    scores = np.random.default_rng(0).normal(size=5000)
    plain = style.bars(ScoreDistribution.from_scores(scores), 1.6, bins=60)
    assert plain["off"] == "" and plain["edges"][-1] >= scores.max()
    assert plain["counts"].sum() == 5000
    dist = ScoreDistribution.from_scores(np.r_[scores, 1000.0])
    marks = {"far": style.Mark(5000.0, True), "near": style.Mark(0.5, False)}
    b = style.bars(dist, 1.6, bins=60, marks=marks)
    assert b["edges"][-1] < 10  # not 1,000: the bars keep the width
    assert b["counts"].sum() == 5000  # the far score is not piled into the last bar
    assert b["placed"] == {"far": b["edges"][-1], "near": 0.5}
    assert "1 of 5,001 scores above" in b["off"] and "largest 1000" in b["off"]
    assert "1 of your images lies beyond the edge" in b["off"]


def test_many_marks_carry_their_names_as_hover_text_not_piled_labels():
    from ui import charts

    many = {f"n{i}.png": style.Mark(1.0 + 0.01 * i, i % 2 == 0) for i in range(10)}
    fig = charts.histogram(_dist(), 1.0, title="t", marks=many)
    assert [a["text"] for a in fig.layout.annotations] == ["threshold 1"]
    dots = [t for t in fig.data if t.type == "scatter"]
    assert {t.name for t in dots} == {"your images: NORMAL", "your images: ANOMALY"}
    assert sorted(x.split(":")[0] for t in dots for x in t.text) == sorted(many)
    assert fig.layout.showlegend
    few = charts.histogram(_dist(), 1.0, title="t", marks=MARKS)
    assert len(few.layout.annotations) == 3 and not few.layout.showlegend


def test_a_long_title_and_its_note_make_room_above_the_plot():
    from ui import charts

    dist = ScoreDistribution.from_scores(np.r_[np.random.default_rng(0).normal(size=5000), 99])
    short = charts.histogram(_dist(), 1.0, title="Scores")
    long = charts.histogram(dist, 1.0, title="Your images among 50,000 generated scores")
    assert "Not drawn" in long.layout.title.text and "<br>" in long.layout.title.text
    assert long.layout.margin.t > short.layout.margin.t
    # the plot area keeps its height
    assert (long.layout.height - long.layout.margin.t - long.layout.margin.b
            >= charts.PLOT_HEIGHT)


def test_what_the_histogram_leaves_out_is_always_said():
    """A streamed (Monte Carlo) distribution, an overlay and a tail on the low side: a score
    left out is always counted in the note, and the overlay keeps its own number of scores."""
    from ganmc.thresholds.montecarlo import StreamingHistogram

    rng = np.random.default_rng(0)
    stream = StreamingHistogram()
    stream.add(rng.uniform(size=10_000))
    stream.add(np.r_[rng.uniform(size=10_000), 2.9])
    b = style.bars(stream.distribution(), 0.95, bins=60)
    assert b["edges"][-1] >= 2.9 or "above" in b["off"]
    scores = ScoreDistribution.from_scores(rng.normal(size=5000))
    held = ScoreDistribution.from_scores(np.r_[rng.normal(size=2000), 50.0])
    b = style.bars(scores, 1.6, bins=60, overlay=held)
    assert "1 of 2,001 held-out scores above" in b["off"] and "largest 50" in b["off"]
    assert np.isclose(b["overlay"].sum(), 2000 * 5000 / 2001)  # scaled by all, not those drawn
    low = ScoreDistribution.from_scores(np.r_[rng.normal(size=5000), -1000.0])
    assert "1 of 5,001 scores below" in style.bars(low, 1.6, bins=60)["off"]
    small = ScoreDistribution.from_scores(np.array([1.0, 1.1, 100.0]))
    assert style.bars(small, 1.05, bins=10)["off"] == ""  # a handful of scores: all drawn
    nan = style.bars(scores, 1.6, bins=60, marks={"x": style.Mark(float("nan"), True)})
    assert nan["placed"] == {} and nan["off"] == ""


def test_a_missing_value_in_the_quality_curve_does_not_hide_a_low_point():
    from ui import charts

    fig = charts.quality_curve([{"step": 0, "noise": float("nan")}, {"step": 10, "noise": 0.2}])
    assert fig.layout.yaxis.range[0] < 0.2


def test_a_rank_scores_held_out_images_are_not_drawn_as_a_flat_line():
    """Issue 35, item 4: the combined score ranks every image among the held-out real ones,
    so theirs lie evenly between 0 and 1 and their outline over the Monte Carlo histogram was
    a flat line from 0 to 1. It is left out and the chart says why; other scores keep it."""
    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from ganmc.report.render import draw_histogram
    from ganmc.thresholds.calibration import choose
    from ganmc.thresholds.distribution import Level
    from ui import charts

    ranks = ScoreDistribution.from_scores((np.arange(400) + 0.5) / 400)
    generated = SimpleNamespace(distribution=_dist(), n=500)
    drawn = {}
    for scorer in ("combined", "mahalanobis"):
        decision = SimpleNamespace(scorer=scorer, threshold=choose(
            "holdout", Level(0.05), holdout=(np.arange(400) + 0.5) / 400))
        fig = charts.verdict_histogram(decision, generated, {})
        title = re.sub(r"<[^>]+>", " ", fig.layout.title.text)
        drawn[scorer] = ([t.name for t in fig.data if t.type == "scatter"], " ".join(title.split()))
    assert drawn["combined"][0] == []
    assert "Held-out real images not drawn: the combined score ranks" in drawn["combined"][1]
    assert drawn["mahalanobis"][0] == ["held-out real normal images (scaled)"]
    assert "not drawn" not in drawn["mahalanobis"][1]

    overlay, note = style.holdout_overlay("combined", ranks)
    assert overlay is None
    ax = Figure().add_subplot()
    draw_histogram(ax, _dist(), 1.0, title="t", overlay=overlay, note=note)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "Held-out real images not drawn" in " ".join(legend.split())
    assert style.holdout_overlay("mahalanobis", ranks) == (ranks, "")
