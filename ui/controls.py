"""The threshold and score widgets every page shares, and the decision they make.

A page calls :func:`page_setup` (Detect, Report) or :func:`percentile_slider`; the values
live in the session (:func:`ui.session.kept`) so they are the same on every page.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ganmc.core import scorers
from ganmc.core.config import AUTO, CALIBRATIONS
from ganmc.core.errors import GanmcError
from ganmc.core.scorers import help_text
from ganmc.thresholds.calibration import AUTO_SOURCE_RULE, SOURCE_WORDS
from ganmc.thresholds.decision import Choice, decide_or_fall_back
from ui import caches, session

#: The threshold sources with the PAC promise (they take a confidence).
PAC_SOURCES = ("pac", "per-digit-pac")


def choice(det) -> Choice:
    """The session's score, threshold source and level as a :class:`ganmc.Choice`.

    A score the active model lacks is not replaced silently: the page says so and uses auto.
    """
    chosen = session.choice_quiet()
    if chosen.scorer != AUTO and chosen.scorer not in det.scorers_:
        st.info(f"This model has no {chosen.scorer} score; showing auto ({det.scorers_[0]}).")
        return replace(chosen, scorer=AUTO)
    return chosen


def mc_key(det) -> caches.McKey:
    """The key of the session's Monte Carlo settings for the active model (a score the model
    lacks counts as auto, as :func:`choice` says on the page)."""
    model = st.session_state["model"]
    asked = st.session_state["scorer"]
    scorer = scorers.resolve(asked if asked in det.scorers_ else AUTO, det.scorers_)
    return caches.McKey(model, caches.model_stamp(model), scorer,
                        int(st.session_state["mc_samples"]), int(st.session_state["mc_seed"]),
                        st.session_state["mc_precision"])


def current_monte_carlo(det):
    """The session's run for its settings (None when not run yet)."""
    return caches.results().get(mc_key(det))


def decision(det, chosen: Choice | None = None):
    """The session's decision for the active model, built once per user action: the
    :class:`ganmc.thresholds.decision.Decision`, the Monte Carlo run that goes with it and what was
    put in place of the choice (:func:`ganmc.thresholds.decision.decide_or_fall_back`). The sidebar
    and the page of one rerun share it, and so do later reruns until a setting, the model or the
    session's run changes.

    Raises:
        GanmcError: If the choice cannot be decided (not kept: asked again next time).
    """
    chosen = chosen if chosen is not None else session.choice_quiet()
    model = st.session_state["model"]
    run_key = mc_key(det)
    mc = caches.results().get(run_key)
    key = (model, caches.model_stamp(model), chosen, run_key, mc is not None)
    return session.reuse("decision", key, lambda: decide_or_fall_back(det, chosen, mc))


def page_setup(page: str):
    """The common head of the Detect and Report pages: the detector, the threshold controls,
    the Monte Carlo run to show (the session's, else the model's stored one) and the decision
    (a Monte Carlo threshold without any run falls back to the holdout one, with a warning)."""
    det = caches.detector()
    threshold_controls(det, page)
    try:
        d, mc, fallback = decision(det, choice(det))
    except GanmcError as exc:  # e.g. a source without scores and no holdout to fall back on
        hint = (" Choose another threshold source, a lower percentile or PAC confidence."
                if st.session_state["calibration"] in PAC_SOURCES
                else " The Monte Carlo page runs a simulation.")
        st.info(f"{str(exc).rstrip('.')}.{hint}")
        st.stop()
    if fallback:
        st.warning(f"{fallback} (the Monte Carlo page runs a simulation).")
    for note in det.notes_:
        st.caption(f"Note: {note}")
    return det, d, mc


def sidebar_summary() -> str:
    """The session's threshold settings in words, with what ``auto`` chose for the model."""
    text = f"Threshold: {session.level()}"
    try:
        model = st.session_state["model"]
        d, _, _ = decision(caches.load(model, caches.model_stamp(model)))
    except GanmcError:
        return text + f"; {st.session_state['calibration']} threshold source, " \
                      f"{st.session_state['scorer']} score"

    def picked(asked: str, got: str) -> str:
        return got if asked != AUTO else f"{got} (auto)"

    return (text + f"; score {picked(st.session_state['scorer'], d.scorer)}, threshold from "
            f"{picked(st.session_state['calibration'], d.threshold.source)}")


def threshold_controls(det, page: str) -> None:
    """Scorer, calibration source and percentile, shared by every page."""
    chosen = st.session_state["scorer"]
    if chosen != AUTO and chosen not in det.scorers_:
        st.info(f"This model has no {chosen} score; showing auto ({det.scorers_[0]}) instead.")
        st.session_state["scorer"] = AUTO
        st.session_state.pop(f"w_{page}_scorer", None)
    pac = st.session_state["calibration"] in PAC_SOURCES
    c1, c2, c3, *c4 = st.columns([1, 1, 2, 1] if pac else [1, 1, 2])
    with c1:
        session.kept(st.selectbox, "scorer", "Anomaly score", page=page,
                     options=[AUTO, *det.scorers_],
                     help=f"{help_text()} The sidebar says which auto chose.")
    with c2:
        session.kept(st.selectbox, "calibration", "Threshold from", page=page,
                     options=[AUTO, *CALIBRATIONS],
                     help=" ".join(f"{name}: {words}." for name, words in SOURCE_WORDS.items())
                     + f" auto: {AUTO_SOURCE_RULE}; the sidebar says which.")
    with c3:
        percentile_slider(page)
    if pac:
        with c4[0]:
            session.kept(st.number_input, "pac_confidence", "PAC confidence (%)", page=page,
                         min_value=50.0, max_value=99.9, step=1.0,
                         help="The chance, over the draw of the calibration images, that at "
                              "most (100 - P)% of new normal images are flagged. Higher is "
                              "stricter and needs more calibration images.")


def percentile_slider(page: str) -> None:
    """The threshold's percentile P, the one slider of every page that has it (its value is
    the session's ``percentile``)."""
    session.kept(st.slider, "percentile", "Percentile (threshold level)", page=page,
                 min_value=session.PERCENTILE_RANGE[0], max_value=session.PERCENTILE_RANGE[1],
                 step=0.1, help="P% of normal scores fall at or below the threshold: about "
                                "(100 - P)% false alarms.")
