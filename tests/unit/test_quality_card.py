"""The quality card's reading, text and anomaly sets, on made-up scores."""

from __future__ import annotations

import numpy as np
import pytest

from ganmc.images import anomalies
from ganmc.thresholds import quality


def _card(aurocs: dict[str, float], preset: str = "standard") -> dict:
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, 400)
    sets = {}
    for name, a in aurocs.items():
        # a shift d gives AUROC Phi(d / sqrt 2): choose d for the wanted AUROC
        from statistics import NormalDist

        d = NormalDist().inv_cdf(a) * np.sqrt(2)
        sets[name] = rng.normal(d, 1, 300)
    return quality.assess(lambda s: s,
                          lambda x, s, level: s > np.quantile(normal, 1 - level.alpha),
                          normal, sets, scorer="mahalanobis", preset=preset)


def test_a_model_that_separates_every_set_reads_good():
    q = _card({"other digits": 0.995, "uniform noise": 0.9999, "scribbles": 0.97})
    assert q["reading"] == "good" and q["words"].startswith("Good")
    assert q["false_alarm"]["0.05"] == pytest.approx(0.05, abs=0.01)
    assert q["sets"]["uniform noise"]["detection"] > 0.9


def test_a_weak_set_makes_it_usable_and_names_the_next_preset():
    q = _card({"other digits": 0.90, "uniform noise": 0.9999})
    assert q["reading"] == "usable"
    assert "other digits" in q["words"] and "preset thorough" in q["words"]


def test_an_under_trained_model_says_so_and_what_to_do():
    q = _card({"other digits": 0.70, "uniform noise": 0.9999}, preset="quick")
    assert q["reading"] == "under-trained"
    assert "Under-trained" in q["words"] and "preset standard" in q["words"]
    assert "quick preset" in q["words"]


def test_the_quick_preset_never_reads_good():
    q = _card({"other digits": 0.999, "uniform noise": 0.9999}, preset="quick")
    assert q["reading"] == "usable" and "quick preset" in q["words"]


def test_card_lines_and_the_report_line_say_the_figures():
    q = _card({"other digits": 0.95})
    lines = quality.card_lines(q)
    assert lines[0].startswith(f"Quality ({q['reading']}): ")
    # issue 35, item 10: the reading once, not "Quality (good): Good: …"
    after = lines[0].split("): ", 1)[1].lower()
    assert not after.startswith(q["reading"]) and after in q["words"].lower()
    assert any("other digits: AUROC" in line for line in lines)
    assert "other digits" in quality.summary_line(q)
    assert "not measured" in quality.summary_line(None)
    assert quality.card_lines(None)[0].startswith("No quality card")


def test_scribbles_have_two_or_more_strokes_and_sets_are_seeded():
    x, counts, _ = anomalies.strokes(50, seed=3, counts=(2, 3))
    assert counts.min() >= 2 and x.shape == (50, 28, 28) and x.dtype == np.uint8
    a = quality.anomaly_sets(np.zeros((10, 28, 28), np.uint8), None, 20, seed=1)
    b = quality.anomaly_sets(np.zeros((10, 28, 28), np.uint8), None, 20, seed=1)
    assert "other digits" not in a and list(a) == list(b)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert (a["inverted"] == 255).all() and len(a["inverted"]) == 10
