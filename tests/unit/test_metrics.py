import numpy as np
import pytest

from ganmc.core.errors import DataError
from ganmc.thresholds.metrics import auroc, average_precision


def brute_auroc(n, a):
    return np.mean([(x > y) + 0.5 * (x == y) for x in a for y in n])


def test_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    n, a = rng.normal(size=80), rng.normal(0.7, size=60)
    n[:5] = a[:5]  # ties
    assert auroc(n, a) == pytest.approx(brute_auroc(n, a))
    assert auroc([0, 1], [2, 3]) == 1.0 and auroc([2, 3], [0, 1]) == 0.0


def test_average_precision():
    assert average_precision([0.1, 0.2], [0.8, 0.9]) == pytest.approx(1.0)
    # ranking: a(0.9) n(0.8) a(0.7): precision at the two positives 1 and 2/3
    assert average_precision([0.8], [0.9, 0.7]) == pytest.approx((1 + 2 / 3) / 2)


def test_empty_sets_are_refused():
    with pytest.raises(DataError):
        auroc([], [1.0])
