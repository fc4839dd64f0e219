"""What a front end's choice comes to for one model: the score and its threshold.

A front end turns its widgets or flags into a :class:`Choice` and asks :func:`decide` (or
:func:`decide_or_fall_back`) once per user action for the :class:`Decision`, which it then
hands to everything that judges, draws or reports. Nothing here simulates or loads a model:
``det`` is a fitted :class:`ganmc.model.detector.Detector` (or anything with its fitted
attributes), so this module sits below the detector and the use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganmc.core import scorers
from ganmc.core.config import AUTO, DEFAULT_PAC_DELTA
from ganmc.core.errors import GanmcError
from ganmc.thresholds.calibration import WHY_AUTO_SOURCE, Threshold
from ganmc.thresholds.distribution import Level

if TYPE_CHECKING:
    from ganmc.model.detector import Detector
    from ganmc.thresholds.montecarlo import MonteCarloResult

__all__ = ["Choice", "Decision", "decide", "decide_or_fall_back"]


@dataclass(frozen=True)
class Choice:
    """What the user asked for: a score, a threshold source and a level (``auto`` allowed),
    and for the PAC sources the chance ``pac_delta`` that the promise fails for the
    calibration draw (0.1: it holds with 90 % confidence)."""

    scorer: str = AUTO
    source: str = AUTO
    level: Level = Level()
    pac_delta: float = DEFAULT_PAC_DELTA


@dataclass(frozen=True)
class Decision:
    """What a :class:`Choice` comes to for one model: the score, its threshold (at the
    level asked for), and in plain words what ``auto`` chose."""

    scorer: str
    threshold: Threshold
    notes: tuple[str, ...] = ()

    @property
    def level(self) -> Level:
        return self.threshold.level


def decide(det: Detector, choice: Choice, monte_carlo: MonteCarloResult | None = None
           ) -> Decision:
    """The one place a front end's choice becomes a score and a threshold for a model.

    ``monte_carlo`` is a run of the front end's own (e.g. the session's latest) used instead
    of the model's stored one. Nothing is simulated here.

    Raises:
        ConfigError: If the score is not in this model or the source has no scores.
    """
    scorer = scorers.resolve(choice.scorer, det.scorers_)
    usable = monte_carlo if monte_carlo is not None and monte_carlo.scorer == scorer else None
    threshold = det.calibration_of(scorer, choice.source, usable, choice.level,
                                   choice.pac_delta)
    notes = []
    if choice.scorer == AUTO:
        notes.append("score auto → " + scorers.why_auto(det.scorers_, det.config.digits))
    if choice.source == AUTO:
        notes.append(f"threshold auto → {threshold.source}: "
                     f"{WHY_AUTO_SOURCE[threshold.source].replace('digit', det.names.noun)}")
    if threshold.delta is not None:
        notes.append(f"PAC threshold: {threshold.promise()}"
                     + (f"; digits {', '.join(map(str, threshold.fallbacks()))} have too few "
                        f"images for their own and use the pooled one"
                        if threshold.fallbacks() else ""))
    return Decision(scorer, threshold, tuple(notes))


def decide_or_fall_back(det: Detector, choice: Choice,
                        monte_carlo: MonteCarloResult | None = None
                        ) -> tuple[Decision, MonteCarloResult | None, str | None]:
    """The decision, the Monte Carlo run that goes with it, and what was put in place of the
    choice (None when nothing was), for a front end that does not simulate on its own.

    The run is ``monte_carlo`` (the front end's own, e.g. a session's latest) when it is of
    the chosen score, else the model's stored run of it. A Monte Carlo threshold with no run
    at all (the slow latent-search score is not simulated when a model is saved) falls back
    to the holdout threshold meanwhile, and the third value says so.

    Raises:
        ConfigError: If neither the choice nor the holdout threshold can be decided.
    """
    scorer = scorers.resolve(choice.scorer, det.scorers_)
    mc = monte_carlo if monte_carlo is not None and monte_carlo.scorer == scorer else None
    mc = mc if mc is not None else det.monte_carlo_.get(scorer)
    try:
        return decide(det, choice, mc), mc, None
    except GanmcError as exc:
        if choice.source != "monte-carlo":
            raise
        try:
            d = decide(det, Choice(choice.scorer, "holdout", choice.level))
        except GanmcError:
            raise exc from None
        return d, mc, f"{exc}: the holdout threshold is used meanwhile"
