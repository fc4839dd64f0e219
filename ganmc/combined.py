"""The ``combined`` score: the most unusual of three views of an image, each ranked among the
held-out normal images.

- the main view: the feature Gaussian's distance (``mahalanobis``; ``mahalanobis-strokes``
  for a model of one digit), which tells letters and scribbles from digits;
- two guards for pictures that are not pen strokes at all: how fake the discriminator finds
  the image (``discriminator``) and its share of grey pixels (neither background nor ink:
  photographs and noise are full of them, pen strokes have them only at their edges).

Each view's value s becomes its rank among the n held-out normal images,
F(s) = (1 + #{held-out values <= s}) / (n + 1), continued linearly past the largest one so
that images beyond every normal image stay ordered. A guard counts only beyond every
held-out image: inside the held-out values its rank enters as 1 - (n + 1)(1 - F), which is
at most 0 below the largest and 1 at it; past it, as F itself (above 1). The score is the
largest of the views: about uniform on (0, 1] for normal images (the main view's rank),
above 1 for an image beyond every held-out normal one in any view.

The score is then calibrated like any other, on the same held-out images
(:meth:`Combination.held_out_scores`): each counted in its own ranks, which puts their scores
at or above what full conformal prediction gives them, and each view's largest ranked against
the others as a new image beyond them would be. Measured over many calibrations
(``tests/unit/test_combined.py``, 19 to 200 images, 1 % and 5 %), the false-alarm rate stays
within the level. Numpy only: the views come from
:mod:`ganmc.scoring`'s graphs (the grey pixels: :func:`ganmc.scoring.grey_count`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganmc.errors import ModelError
from ganmc.scorers import GUARDS

#: Ink levels (0 = background, 1 = full ink) strictly between which a pixel counts as grey.
GREY_BAND = (0.1, 0.9)


#: Pixels of an image.
PIXELS = 28 * 28


def grey_share(counts: np.ndarray) -> np.ndarray:
    """Share of grey pixels, from each image's count of them
    (:func:`ganmc.scoring.grey_count`, the one place a pixel is told grey or not)."""
    return np.asarray(counts, np.float64) / PIXELS


def rank(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """F(s) of each value among the sorted ``reference`` values (see the module's text)."""
    ref = np.asarray(reference, np.float64)
    s = np.asarray(values, np.float64)
    inside = (1.0 + np.searchsorted(ref, s, side="right")) / (len(ref) + 1.0)
    spread = float(ref[-1] - ref[0]) or 1.0
    return np.where(s > ref[-1], 1.0 + (s - ref[-1]) / spread, inside)


@dataclass(frozen=True)
class Combination:
    """The held-out references of a combined score: the sorted values of its main view and
    of each guard on the held-out normal images.

    Attributes:
        main: The main view's score name.
        references: Sorted held-out values by view name (``main`` and :data:`GUARDS`).
    """

    main: str
    references: dict[str, np.ndarray]

    @classmethod
    def fit(cls, main: str, views: dict[str, np.ndarray]) -> Combination:
        """References from the held-out images' values of each view.

        Raises:
            ModelError: If a view is missing, empty or not finite.
        """
        refs = {}
        for name in (main, *GUARDS):
            v = np.asarray(views.get(name, ()), np.float64).ravel()
            if v.size == 0 or not np.isfinite(v).all():
                raise ModelError(f"the combined score needs finite held-out values of {name}")
            refs[name] = np.sort(v)
        return cls(main, refs)

    def held_out_scores(self, views: dict[str, np.ndarray]) -> np.ndarray:
        """The held-out images' own combined scores (``views``: theirs, in one order): each
        image counted in its own ranks, except each view's largest, which is ranked against
        the others as a new image beyond them all would be (past the largest value a rank
        goes on growing, so a held-out maximum counted against itself would sit below such
        a new image and the threshold with it)."""
        scores = self.score(views)
        n = len(views[self.main])
        for name in (self.main, *GUARDS) if n > 1 else ():
            i = int(np.argmax(views[name]))
            others = type(self).fit(self.main, {k: np.delete(np.asarray(v), i)
                                                for k, v in views.items()})
            scores[i] = others.score({k: np.asarray(v)[i:i + 1] for k, v in views.items()})[0]
        return scores

    def score(self, views: dict[str, np.ndarray]) -> np.ndarray:
        """The combined score of images from their values of each view."""
        main = rank(self.references[self.main], views[self.main])
        guards = [_guard(rank(self.references[g], views[g]), len(self.references[g]))
                  for g in GUARDS]
        return np.max([main, *guards], axis=0)

    def arrays(self) -> dict[str, np.ndarray]:
        """The references as named arrays, for the model folder."""
        return dict(self.references)

    @classmethod
    def from_arrays(cls, main: str, arrays: dict[str, np.ndarray]) -> Combination:
        """Read back what :meth:`arrays` gave.

        Raises:
            ModelError: If a reference is missing, not 1-D, unsorted or not finite.
        """
        if any(np.asarray(v).ndim != 1 for v in arrays.values()):
            raise ModelError("the combined score's references are not lists of values")
        combination = cls.fit(main, arrays)
        if any(not np.array_equal(combination.references[k], np.asarray(arrays[k]).ravel())
               for k in combination.references):
            raise ModelError("the combined score's references are not sorted")
        return combination


def _guard(f: np.ndarray, n: int) -> np.ndarray:
    """A guard's rank as it enters the score: nothing below the largest held-out value, F
    from it on (see the module's text)."""
    return np.where(f > 1.0, f, 1.0 - (n + 1.0) * (1.0 - f))
