"""The combined score: ranks among the held-out images, guards that count only beyond every
normal image, and the conformal guarantee kept."""

import numpy as np
import pytest

from ganmc.core.errors import ModelError
from ganmc.scores.combined import SHAPE_GUARDS, SHAPE_MAINS, Combination, grey_share, rank, views_of
from ganmc.thresholds.calibration import choose
from ganmc.thresholds.distribution import Level


def _views(rng, n, shift=0.0):
    return {"mahalanobis": rng.gamma(2.0, size=n) + shift,
            "discriminator": rng.normal(size=n), "grey": rng.uniform(0, 0.15, n)}


def _shape_views(rng, n):
    """Two main views that agree in part (as the shape network's margin and distance do)."""
    common = rng.normal(size=n)
    return {"shape": common + rng.normal(size=n), "shape-distance": rng.gamma(2.0, size=n)
            + 0.5 * common, "discriminator": rng.normal(size=n),
            "tones": rng.uniform(0, 0.05, n)}


def test_rank_counts_held_out_values_at_or_below_and_goes_on_past_the_largest():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(rank(ref, [0.0, 1.0, 2.5, 4.0]), [0.2, 0.4, 0.6, 1.0])
    above = rank(ref, [5.0, 7.0])
    assert 1.0 < above[0] < above[1]  # beyond every held-out value, still ordered


def test_grey_share_counts_pixels_neither_ink_nor_background():
    from ganmc.scores.scoring import grey_count

    x = -np.ones((2, 28, 28, 1), np.float32)  # background
    x[0, :14] = 1.0  # half full ink: no grey
    x[1, :7] = 0.0  # a quarter mid-grey
    np.testing.assert_allclose(grey_share(grey_count(x).numpy()), [0.0, 0.25])


def test_a_guard_counts_only_beyond_every_held_out_image():
    rng = np.random.default_rng(0)
    held = _views(rng, 500)
    c = Combination.fit(("mahalanobis",), held)
    typical = {k: np.array([np.median(v)]) for k, v in held.items()}
    base = c.score(typical)[0]
    assert 0.3 < base < 0.7  # the main view's rank
    near = dict(typical, grey=np.array([np.sort(held["grey"])[-2]]))  # second largest
    assert c.score(near)[0] == base  # inside the held-out values: the guard says nothing
    photo = dict(typical, grey=np.array([held["grey"].max() + 0.01]))
    assert c.score(photo)[0] > 1.0  # beyond every normal image: above any threshold
    fake = dict(typical, discriminator=np.array([held["discriminator"].max() + 0.5]))
    assert c.score(fake)[0] > 1.0


@pytest.mark.parametrize(("n", "alpha", "reps"), [(200, 0.05, 300), (19, 0.05, 3000),
                                                  (39, 0.05, 2000), (99, 0.01, 3000)])
def test_the_conformal_guarantee_holds_for_the_combined_score(n, alpha, reps):
    """Over many calibrations, the combined score's conformal threshold flags at most alpha
    of new normal images, though its references come from the same held-out images: with
    many of them, and with as few as the level allows (where each view's largest held-out
    value decides the threshold)."""
    rng = np.random.default_rng(1)
    rates = []
    for _ in range(reps):
        held = _views(rng, n)
        c = Combination.fit(("mahalanobis",), held)
        rule = choose("holdout", Level(alpha), holdout=c.held_out_scores(held))
        rates.append(np.mean(rule.flags(c.score(_views(rng, 500)))))
    assert np.mean(rates) <= alpha * 1.06 + 0.001, np.mean(rates)
    if n == 200:
        assert np.mean(rates) > 0.04  # and not needlessly conservative


@pytest.mark.parametrize(("n", "alpha", "reps"), [(200, 0.05, 300), (19, 0.05, 3000),
                                                  (99, 0.01, 2000)])
def test_the_guarantee_holds_with_two_main_views(n, alpha, reps):
    """With the shape network's two main views and its guards, the score of a normal image
    is the larger of two ranks (no longer uniform), and the conformal threshold on the
    held-out images' own scores still flags at most alpha of new normal images."""
    rng = np.random.default_rng(3)
    rates = []
    for _ in range(reps):
        held = _shape_views(rng, n)
        c = Combination.fit(SHAPE_MAINS, held, SHAPE_GUARDS)
        rule = choose("holdout", Level(alpha), holdout=c.held_out_scores(held))
        rates.append(np.mean(rule.flags(c.score(_shape_views(rng, 500)))))
    assert np.mean(rates) <= alpha * 1.06 + 0.001, np.mean(rates)
    if n == 200:
        assert np.mean(rates) > 0.04


def test_either_main_view_flags_an_image():
    rng = np.random.default_rng(4)
    held = _shape_views(rng, 400)
    c = Combination.fit(SHAPE_MAINS, held, SHAPE_GUARDS)
    typical = {k: np.array([np.median(v)]) for k, v in held.items()}
    for view in SHAPE_MAINS:
        odd = dict(typical, **{view: np.array([held[view].max() * 2])})
        assert c.score(odd)[0] > 1.0
        assert c.ranks(odd)[view][0] == c.score(odd)[0]  # the explanation names the view


def test_which_views_a_model_combines():
    assert views_of({"shape", "density", "strokes"}, 10) == (SHAPE_MAINS, SHAPE_GUARDS)
    # one digit keeps the one-class protocol's score (the shape network is not used there)
    assert views_of({"shape", "density", "strokes"}, 1) == (("mahalanobis-strokes",),
                                                            ("discriminator", "grey"))
    assert views_of({"density"}, 10) == (("mahalanobis",), ("discriminator", "grey"))


def test_references_round_trip_and_broken_ones_are_refused():
    c = Combination.fit(("mahalanobis",), _views(np.random.default_rng(2), 50))
    again = Combination.from_arrays(("mahalanobis",), c.arrays())
    for k in c.references:
        np.testing.assert_array_equal(again.references[k], c.references[k])
    bad = c.arrays()
    bad["grey"] = bad["grey"][::-1].copy()
    with pytest.raises(ModelError):
        Combination.from_arrays(("mahalanobis",), bad)
    with pytest.raises(ModelError):
        Combination.from_arrays(("mahalanobis",), {**c.arrays(), "grey": np.zeros((5, 5))})
    with pytest.raises(ModelError):
        Combination.fit(("mahalanobis",), {"mahalanobis": np.ones(3)})  # guards missing
