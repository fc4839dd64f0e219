"""What the Monte Carlo page shows of a run: its histogram with the held-out real images
over it, its numbers, and the speed to expect before it starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ganmc.app import evaluation, service
from ganmc.report import style
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.montecarlo import FINE_BINS
from ui import caches, charts


def expected_speed(det, key, last) -> tuple[float, str]:
    """Samples/s to expect before a run: the session's ``last`` run if it was of this model
    and score at this precision (stopped ones too), else a short timed batch on this machine
    now (measured once per model, score and precision). Never the speed stored with the
    model: that was measured another day, maybe on another machine or under another load."""
    if last is not None:
        p, k = last.snapshot()["progress"], last.params.get("key")
        same = ("model", "stamp", "scorer", "precision")
        if (p is not None and p.pace > 0 and k is not None
                and all(getattr(k, f) == getattr(key, f) for f in same)):
            return p.pace, "your last run of this score"
    return (caches.measured_speed(det, key.model, key.stamp, key.scorer, key.precision),
            "a short timed batch on this machine")


def simulation_figure(det, result, threshold: float):
    """The histogram of a run with its threshold, the held-out real digits drawn over it."""
    holdout = det.holdout_scores_.get(result.scorer)
    overlay, note = style.holdout_overlay(result.scorer, det.calibration_of(
        result.scorer, "holdout").distribution if holdout is not None else None)
    return charts.histogram(result.distribution, threshold, note=note,
                            overlay=overlay, overlay_name="held-out real normal images (scaled)",
                            title=f"Scores of {result.n:,} generated images")


def simulation(det, result, level) -> None:
    """A finished run: its histogram, its numbers, and the Detect page's images at its
    threshold, all from one decision (this run's Monte Carlo threshold at the level)."""
    decision = decide(det, Choice(result.scorer, "monte-carlo", level), result)
    s = service.simulation_summary(det, result, level)
    st.plotly_chart(simulation_figure(det, result, decision.threshold.value), key="mc_hist")
    st.caption(f"Score: {result.scorer}.")
    simulation_numbers(s, result, level)
    scored = st.session_state.get("scored") or []
    if scored:
        st.subheader("Images scored on the Detect page, at this threshold")
        verdicts = service.score(det, np.stack([img for _, img in scored]), decision)
        st.caption("Each row is judged by this run's Monte Carlo threshold; the Detect page "
                   "judges by the threshold chosen there (Threshold from), so a verdict can "
                   "differ between the two pages: each row says which threshold judged it.")
        st.dataframe(pd.DataFrame(
            [{"image": n, "score": v.score, "p-value": v.p_value, "verdict": v.label.upper(),
              "judged by": f"this run's Monte Carlo threshold {v.threshold:.4g}"}
             for (n, _), v in zip(scored, verdicts)]), hide_index=True, key="mc_scored")


def simulation_numbers(s: dict, result, level) -> None:
    """The threshold with its interval, the moments, the reading, and what the threshold does
    to the held-out real digits (from :func:`ganmc.app.service.simulation_summary`)."""
    lo, hi = s["threshold_ci95"]
    m = st.columns(5)
    m[0].metric("Threshold", f"{s['threshold']:.4g}",
                help="The percentile of the simulated scores; its 95% confidence interval "
                     "comes from order statistics.")
    for col, name in zip(m[1:], ("mean", "std", "min", "max")):
        col.metric(name.capitalize(), f"{s[name]:.4g}")
    st.markdown(f"95% confidence interval of the threshold: **{lo:.4g} – {hi:.4g}**.  \n"
                + s["interpretation"])
    if s["false_alarm_rate_on_holdout"] is not None:
        ks = s["ks"]
        show = st.warning if ks["differ"] else st.info
        show(f"**Monte Carlo against real.** {ks['reading']}  \n"
             f"**Measured on {s['holdout_n']:,} held-out real normal images**, this Monte Carlo "
             f"threshold flags "
             f"**{evaluation.far_from_nominal(s['false_alarm_rate_on_holdout'], level)}**. The "
             f"hold-out (conformal) threshold at the same level is "
             f"**{s['holdout_threshold']:.4g}** and guarantees at most "
             f"{level.percent} on average.")
    st.caption(f"{result.n:,} samples in {result.seconds:.1f} s "
               f"({result.samples_per_s:,.0f} samples/s, {s['precision']}); "
               + ("exact quantiles" if result.distribution.exact else
                  f"quantiles from a {FINE_BINS:,}-bin streaming histogram"))
