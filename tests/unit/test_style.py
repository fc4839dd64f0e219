"""Colour means verdict, in the dashboard's charts and in the PNG report alike."""

import numpy as np
import pytest

from ganmc.calibration import Level, ScoreDistribution
from ganmc.report import style


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
    from ganmc.service import far_from_nominal

    level = Level.from_percentile(95)
    assert far_from_nominal(0.071, level) == "7.1% against the nominal 5% (2.1 points above)"
    assert far_from_nominal(0.018, Level.from_percentile(99)) == \
        "1.8% against the nominal 1% (0.8 points above)"
    assert far_from_nominal(0.03, level).endswith("(2.0 points below)")


def test_level_converts_percentile_and_alpha_once():
    assert Level.from_percentile(95).alpha == 0.05
    assert Level(0.01).percentile == 99
    assert str(Level.from_percentile(97.5)) == "97.5th percentile (2.5% false alarms)"


def test_level_takes_numpy_numbers():
    assert Level(np.float32(0.05)).alpha == pytest.approx(0.05)
    assert isinstance(Level(np.float64(0.1)).alpha, float)


def test_writing_onto_a_folder_is_one_clear_error(tmp_path):
    from ganmc.errors import StorageError
    from ganmc.files import atomic_write_bytes

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
