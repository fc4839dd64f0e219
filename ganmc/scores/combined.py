"""The ``combined`` score: the most unusual of several views of an image, each ranked among
the held-out normal images.

Two kinds of views (:func:`views_of`):

- the main views, which tell letters and scribbles from digits: for a model with a shape
  network (:func:`ganmc.nets.networks.build_shape`) and several digits, the shape network's
  ``shape`` score and ``shape-distance`` (how far its view of the image lies from its view
  of the digit it is taken for); otherwise the feature Gaussian's distance over D's
  features (``mahalanobis``; ``mahalanobis-strokes`` for a model of one digit);
- guards for pictures that are not pen strokes at all: how fake the discriminator finds the
  image (``discriminator``) and, for a model with a shape network, how much of it is grey
  away from any pen stroke (``tones``: photographs are grey everywhere, pen strokes only at
  their edges, however blurred); for a model without one, its share of grey pixels
  (``grey``), which also counts a blurred scan's stroke edges.

Each view's value s becomes its rank among the n held-out normal images,
F(s) = (1 + #{held-out values <= s}) / (n + 1), continued linearly past the largest one so
that images beyond every normal image stay ordered. A guard counts only beyond every
held-out image: inside the held-out values its rank enters as 1 - (n + 1)(1 - F), which is
at most 0 below the largest and 1 at it; past it, as F itself (above 1). The score is the
largest of the views: about uniform on (0, 1] for normal images with one main view (their
largest rank with two), above 1 for an image beyond every held-out normal one in any view.

The score is then calibrated like any other, on the same held-out images
(:meth:`Combination.held_out_scores`): each counted in its own ranks, which puts their scores
at or above what full conformal prediction gives them, and each view's largest ranked against
the others as a new image beyond them would be. Measured over many calibrations
(``tests/unit/test_combined.py``, 19 to 200 images, 1 % and 5 %), the false-alarm rate stays
within the level. Numpy only: the views come from :mod:`ganmc.scores.scoring`'s graphs (the grey
pixels: :func:`ganmc.scores.scoring.grey_count` and :func:`ganmc.scores.scoring.tones_count`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganmc.core.errors import ModelError

#: Ink levels (0 = background, 1 = full ink) strictly between which a pixel counts as grey.
GREY_BAND = (0.1, 0.9)
#: Ink level from which a pixel is full ink (a pen stroke's core).
INK = 0.9
#: How far (pixels, in every direction) a pen stroke's grey edge reaches from its ink: a
#: grey pixel farther than this from any full ink counts in ``tones``.
STROKE_REACH = 2
#: Pixels of an image.
PIXELS = 28 * 28
#: The guards of a combined score without a shape network (models saved before it).
GUARDS = ("discriminator", "grey")
#: The guards of a combined score with a shape network.
SHAPE_GUARDS = ("discriminator", "tones")
#: The main views of a combined score with a shape network.
SHAPE_MAINS = ("shape", "shape-distance")
#: Views whose values are pixel counts, turned into shares of the image.
COUNTED = ("grey", "tones")
#: Why an image a view decides is flagged, in plain words (a verdict's reason).
VIEW_WORDS = {
    "mahalanobis": "the discriminator's view of it lies far from the training digits'",
    "mahalanobis-strokes": "the discriminator's view of it lies far from the training "
                           "digits' (or it draws too little)",
    "shape": "it looks more like a letter, a symbol or a scribble than a digit (the shape "
             "network)",
    "shape-distance": "its shape is unlike the digit it is taken for (the shape network)",
    "discriminator": "the discriminator finds it unlike any digit it has seen",
    "grey": "more of it is grey than in any normal digit",
    "tones": "it has a photograph's tones: grey away from any pen stroke, more than any "
             "normal digit has",
}


def views_of(parts: set[str], n_digits: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The main views and the guards of the combined score of a model with these fitted
    parts (:func:`ganmc.scores.scoring.parts_of`) and this many normal digits (the module's
    text)."""
    if "shape" in parts and n_digits > 1:
        return SHAPE_MAINS, SHAPE_GUARDS
    main = "mahalanobis-strokes" if n_digits == 1 and "strokes" in parts else "mahalanobis"
    return (main,), GUARDS


def shares(views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The views with their pixel counts (:data:`COUNTED`) turned into shares of the image,
    float64."""
    return {k: np.asarray(v, np.float64) / (PIXELS if k in COUNTED else 1.0)
            for k, v in views.items()}


def grey_share(counts: np.ndarray) -> np.ndarray:
    """Share of grey pixels, from each image's count of them
    (:func:`ganmc.scores.scoring.grey_count`, the one place a pixel is told grey or not)."""
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
    """The held-out references of a combined score: the sorted values of each main view and
    of each guard on the held-out normal images.

    Attributes:
        mains: The main views' names.
        references: Sorted held-out values by view name (``mains`` and ``guards``).
        guards: The guards' names.
    """

    mains: tuple[str, ...]
    references: dict[str, np.ndarray]
    guards: tuple[str, ...] = GUARDS

    @property
    def main(self) -> str:
        """The first main view (the card's ``main``)."""
        return self.mains[0]

    @property
    def views(self) -> tuple[str, ...]:
        """Every view it reads: the main ones, then the guards."""
        return (*self.mains, *self.guards)

    @classmethod
    def fit(cls, mains: tuple[str, ...], views: dict[str, np.ndarray],
            guards: tuple[str, ...] = GUARDS) -> Combination:
        """References from the held-out images' values of each view.

        Raises:
            ModelError: If a view is missing, empty or not finite.
        """
        refs = {}
        for name in (*mains, *guards):
            v = np.asarray(views.get(name, ()), np.float64).ravel()
            if v.size == 0 or not np.isfinite(v).all():
                raise ModelError(f"the combined score needs finite held-out values of {name}")
            refs[name] = np.sort(v)
        return cls(tuple(mains), refs, tuple(guards))

    def held_out_scores(self, views: dict[str, np.ndarray]) -> np.ndarray:
        """The held-out images' own combined scores (``views``: theirs, in one order): each
        image counted in its own ranks, except each view's largest, which is ranked against
        the others as a new image beyond them all would be (past the largest value a rank
        goes on growing, so a held-out maximum counted against itself would sit below such
        a new image and the threshold with it)."""
        scores = self.score(views)
        n = len(views[self.main])
        for name in self.views if n > 1 else ():
            i = int(np.argmax(views[name]))
            others = type(self).fit(self.mains, {k: np.delete(np.asarray(v), i)
                                                 for k, v in views.items()}, self.guards)
            scores[i] = others.score({k: np.asarray(v)[i:i + 1] for k, v in views.items()})[0]
        return scores

    def ranks(self, views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each view's contribution to the score (its rank; a guard's only beyond every
        held-out image, else at most 0), by name: what a verdict's explanation reads."""
        out = {m: rank(self.references[m], views[m]) for m in self.mains}
        out.update({g: _guard(rank(self.references[g], views[g]), len(self.references[g]))
                    for g in self.guards})
        return out

    def score(self, views: dict[str, np.ndarray]) -> np.ndarray:
        """The combined score of images from their values of each view."""
        return np.max(list(self.ranks(views).values()), axis=0)

    def deciding(self, views: dict[str, np.ndarray]) -> list[str]:
        """The view that gives each image its score (its largest contribution)."""
        ranks = self.ranks(views)
        names = list(ranks)
        return [names[i] for i in np.argmax(np.stack([ranks[n] for n in names]), axis=0)]

    def arrays(self) -> dict[str, np.ndarray]:
        """The references as named arrays, for the model folder."""
        return dict(self.references)

    def describe(self) -> dict[str, list[str]]:
        """What the model card keeps of it besides the arrays."""
        return {"main": self.main, "mains": list(self.mains), "guards": list(self.guards)}

    @classmethod
    def from_arrays(cls, mains: tuple[str, ...], arrays: dict[str, np.ndarray],
                    guards: tuple[str, ...] = GUARDS) -> Combination:
        """Read back what :meth:`arrays` gave.

        Raises:
            ModelError: If a reference is missing, not 1-D, unsorted or not finite.
        """
        if any(np.asarray(v).ndim != 1 for v in arrays.values()):
            raise ModelError("the combined score's references are not lists of values")
        combination = cls.fit(mains, arrays, guards)
        if any(not np.array_equal(combination.references[k], np.asarray(arrays[k]).ravel())
               for k in combination.references):
            raise ModelError("the combined score's references are not sorted")
        return combination


def _guard(f: np.ndarray, n: int) -> np.ndarray:
    """A guard's rank as it enters the score: nothing below the largest held-out value, F
    from it on (see the module's text)."""
    return np.where(f > 1.0, f, 1.0 - (n + 1.0) * (1.0 - f))
