"""The registry of anomaly scores: what each is, needs and costs, and which ``auto`` picks.

Pure Python, no TensorFlow, so that the CLI's parser, its help and the dashboard's selectors
read it before any model loads. :data:`ganmc.core.config.SCORERS`, the help texts
(:func:`help_text`), ``auto``'s rule (:func:`auto_order`, in words :data:`AUTO_RULE`) and
why ``auto`` chose what it chose (:func:`why_auto`) all come from :data:`REGISTRY`. The
scores' TensorFlow graphs are in :mod:`ganmc.scores.scoring`; the combined score's ranks in
:mod:`ganmc.scores.combined`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ganmc.core.errors import ConfigError

AUTO = "auto"


@dataclass(frozen=True)
class Scorer:
    """One anomaly score (higher = more anomalous).

    Attributes:
        name: The name on the command line and in the dashboard.
        needs: The part of a fitted model it cannot work without: ``"encoder"``,
            ``"density"`` (the feature Gaussian), ``"strokes"`` (its stroke figures),
            ``"shape"`` (the shape network), ``"combination"`` (held-out references of its
            parts) or None.
        one_pass: One forward pass per image: cheap enough to simulate at the end of every
            training run.
        reconstructs: What it shows as the model's version of an image.
        words: What it measures, in plain words, for help texts.
        ranks_holdout: Its value is a rank among the held-out normal images: theirs lie
            evenly between 0 and 1 by construction, so their histogram says nothing.
        composite: Made of other scores' views (:mod:`ganmc.scores.combined`), with no network
            graph of its own (:data:`ganmc.scores.scoring.GRAPHS` has the others'): it is computed
            from the held-out references after the others, and its held-out values are not
            a network's (they do not tell whether images are the model's held-out ones).
        searches: Searches the generator's inputs for each image (gradient steps, not one
            pass): what it shows is G(z*), it cannot be exported, and it is simulated or
            calibrated only when asked for.
    """

    name: str
    needs: str | None
    one_pass: bool
    reconstructs: str
    words: str
    ranks_holdout: bool = False
    composite: bool = False
    searches: bool = False


#: Every score, in the order ``auto`` prefers them when nothing below says otherwise.
REGISTRY: dict[str, Scorer] = {s.name: s for s in (
    Scorer("fanogan", "encoder", True, "G(E(x))",
           "how badly the model redraws the image (it encodes the image and generates it "
           "back: G(E(x)))"),
    Scorer("mahalanobis", "density", True, "G(E(x))",
           "how far the discriminator's view of the image (its features) lies from its "
           "view of the training digits"),
    Scorer("mahalanobis-strokes", "strokes", True, "G(E(x))",
           "mahalanobis, also counting drawing less than the training digits do as strange "
           "(a 1 is not taken for part of an 8)"),
    Scorer("combined", "combination", True, "G(E(x))",
           "the most unusual of several views, each ranked among the held-out normal images: "
           "for a model with the shape network, the shape score and how far the shape "
           "network's view of the image lies from the digit it is taken for (else the "
           "feature Gaussian's distance: mahalanobis, or mahalanobis-strokes for one digit), "
           "guarded by how fake the discriminator finds the image and how much of it is grey "
           "away from any pen stroke (its grey pixels, for a model without the shape "
           "network); letters and scribbles are flagged by the first, photographs and noise "
           "by the guards too. 1 = as unusual as the most unusual held-out normal image",
           ranks_holdout=True, composite=True),
    Scorer("shape", "shape", True, "G(E(x))",
           "how much more the shape network, which learnt the digits in many hands against "
           "letters and symbols of some 400 fonts (printed and pen-drawn) and random pen "
           "curves, takes the image for a non-digit than for any digit"),
    Scorer("discriminator", None, True, "G(E(x))",
           "the original method: how fake the discriminator finds the image (minus its "
           "logit)"),
    Scorer("latent-search", None, False, "G(z*)",
           "AnoGAN's: how badly the best redrawing found by searching the generator's "
           "inputs fits (about 100 times slower)", searches=True),
)}
SCORERS = tuple(REGISTRY)
#: Scores of one forward pass, cheap enough to simulate at the end of every training run.
ONE_PASS = tuple(n for n, s in REGISTRY.items() if s.one_pass)
#: Scores made of other scores' views (no graph of their own).
COMPOSITE = tuple(n for n, s in REGISTRY.items() if s.composite)
#: Scores that read the feature Gaussian (refitting it changes their values).
GAUSSIAN = tuple(n for n, s in REGISTRY.items()
                 if s.needs in ("density", "strokes", "combination"))

@dataclass(frozen=True)
class Preference:
    """One line of ``auto``'s rule: for a model it ``applies`` to (its fitted parts, number
    of normal digits, whether its Gaussians are per digit), the scores put ``first``, in
    order (those the model has), before the registry's order.

    Attributes:
        first: The scores put first.
        rule: The line in words, for :data:`AUTO_RULE`.
        why: Why each of ``first`` is chosen when it comes first, in words (same order).
        applies: ``(parts, n_digits, per_digit) -> bool``.
    """

    first: tuple[str, ...]
    rule: str
    why: tuple[str, ...]
    applies: Callable[[set[str], int, bool], bool]


_SHAPE_WHY = ("the model has the shape network, which learnt the digits' shapes in many "
              "hands against letters, symbols and scribbles")
#: ``auto``'s preferences, the first that applies wins; docs/benchmarks.md has the figures
#: behind them.
PREFERENCES = (
    Preference(("mahalanobis-strokes", "mahalanobis"),
               "mahalanobis-strokes for a model of one digit (mahalanobis for one saved "
               "before it)",
               ("for a model of one digit it tells the other digits apart best, simpler ones "
                "(a 1 beside an 8) included",
                "for a model of one digit it tells the other digits apart better than fanogan "
                "(the model has no stroke figures for mahalanobis-strokes)"),
               lambda parts, n_digits, per_digit: n_digits == 1 and "density" in parts),
    Preference(("combined", "shape"),
               "combined for a model of several digits with the shape network (its views, "
               "guarded against photographs and noise)",
               (_SHAPE_WHY + ", and the combined score adds the discriminator's view and the "
                "grey tones away from pen strokes, which flag photographs and noise",
                _SHAPE_WHY),
               lambda parts, n_digits, per_digit: "shape" in parts),
    Preference(("combined", "mahalanobis"),
               "combined for one trained with the digits' labels (a Gaussian for each digit, "
               "guarded likewise)",
               ("the model has a Gaussian per digit, which tells letters and scribbles from "
                "digits best, and the combined score adds the discriminator's and the grey "
                "pixels' views, which flag photographs and noise",
                "the model has a Gaussian per digit, which tells letters and scribbles from "
                "digits better than fanogan"),
               lambda parts, n_digits, per_digit: "density" in parts and per_digit),
)
#: Where no preference applies, the registry's order; why its first score is chosen then.
OTHERWISE = {
    "fanogan": "the model has an encoder, so it can redraw each image",
    "mahalanobis": "the model has no encoder, so fanogan is not available",
    "discriminator": "the model has neither an encoder nor the feature Gaussian (an old "
                     "model)",
}
#: :func:`auto_order`'s rule in plain words (the CLI's and the dashboard's help).
AUTO_RULE = ("; ".join(p.rule for p in PREFERENCES)
             + "; else fanogan when the model has an encoder, else mahalanobis (discriminator "
               "for an old model without the Gaussian)")


def auto_order(parts: set[str], n_digits: int, per_digit: bool) -> tuple[str, ...]:
    """The scores a model with these fitted ``parts`` has, in the order ``auto`` prefers
    them: the registry's order, with the first :data:`PREFERENCES` entry that applies
    putting its scores first."""
    have = tuple(n for n, s in REGISTRY.items() if s.needs is None or s.needs in parts)
    chosen = next((p for p in PREFERENCES if p.applies(parts, n_digits, per_digit)), None)
    first = tuple(n for n in (chosen.first if chosen else ()) if n in have)
    return (*first, *(n for n in have if n not in first))


def resolve(requested: str, have: tuple[str, ...]) -> str:
    """The one rule for the score in use: ``auto`` is the first the model has.

    Raises:
        ConfigError: If the requested score is unknown or this model lacks it.
    """
    if requested == AUTO:
        return have[0]
    if requested not in REGISTRY:
        raise ConfigError(f"unknown score {requested!r}; choose one of {', '.join(SCORERS)}")
    if requested not in have:
        raise ConfigError(f"the {requested} score is not available in this model (it has "
                          f"{', '.join(have)})")
    return requested


def why_auto(have: tuple[str, ...], digits: tuple[int, ...] = ()) -> str:
    """In plain words, why ``auto`` picks what it picks for a model with these scores (in
    :func:`auto_order`'s order) and normal ``digits``: the words of the preference that put
    the first one first, else why the registry's first is chosen."""
    chosen = have[0]
    parts = {REGISTRY[n].needs for n in have} - {None}
    reordered = list(have) != [n for n in REGISTRY if n in have]
    for p in PREFERENCES:
        lead = tuple(n for n in p.first if n in have)
        if (reordered and lead and have[:len(lead)] == lead
                and p.applies(parts, len(digits), True)):
            return f"{chosen}: {p.why[p.first.index(chosen)]}"
    return f"{chosen}: {OTHERWISE.get(chosen, OTHERWISE['discriminator'])}"


def help_text() -> str:
    """Every score in plain words, and ``auto``'s rule: the CLI's ``--scorer`` help and the
    dashboard's score selector read this."""
    return (" ".join(f"{n}: {s.words}." for n, s in REGISTRY.items())
            + f" auto: {AUTO_RULE}.")
