"""Display pieces that more than one line of a page needs: what a page shows of a result.

Pages stay "widgets -> one call into the package -> display"; the longer displays are here.
"""

from __future__ import annotations

import streamlit as st

from ganmc import service
from ganmc.montecarlo import FINE_BINS
from ganmc.tracker import CALIBRATING, describe
from ganmc.train import describe_device
from ui import charts


def simulation_numbers(s: dict, result, level) -> None:
    """The threshold with its interval, the moments, the reading, and what the threshold does
    to the held-out real digits (from :func:`ganmc.service.simulation_summary`)."""
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
        st.warning(
            f"**Measured on {s['holdout_n']:,} held-out real normal digits**, this Monte Carlo "
            f"threshold flags "
            f"**{service.far_from_nominal(s['false_alarm_rate_on_holdout'], level)}**. The "
            f"hold-out (conformal) threshold at the same level is "
            f"**{s['holdout_threshold']:.4g}** and guarantees at most "
            f"{100 * level.alpha:.3g}% on average.")
    st.caption(f"{result.n:,} samples in {result.seconds:.1f} s "
               f"({result.samples_per_s:,.0f} samples/s, {s['precision']}); "
               + ("exact quantiles" if result.distribution.exact else
                  f"quantiles from a {FINE_BINS:,}-bin streaming histogram"))


def training_job(job) -> None:
    """A training job's status, Stop button, progress, loss curves, samples and outcome."""
    snap = job.snapshot()
    p, params = snap["progress"], snap["params"]
    st.subheader(f"Job {params.get('name')} — {snap['status']}")
    st.caption(f"{params.get('arch')}, digits {params.get('digits')}, {params.get('epochs')} + "
               f"{params.get('encoder_epochs')} epochs, batch {params.get('batch_size')}, "
               f"seed {params.get('seed')}, data {params.get('data')}; device "
               f"{describe_device()}")
    if snap["status"] == "running" and st.button("Stop training", key="train_stop",
                                                 disabled=snap["stop_requested"]):
        job.stop()
        st.toast("Stopping within a few steps…")
    if p is None:
        st.progress(0.0, text="Loading data and building the networks…")
    else:
        calibrating = snap["status"] == "running" and p.epoch_end and p.fraction >= 1.0
        text = CALIBRATING if calibrating else describe(p)
        if snap["status"] == "running" and snap["stop_requested"]:
            text = "Stopping: calibrating the fast scores on the held-out digits and saving…"
        st.progress(min(p.fraction, 1.0), text=text)
    history, samples = charts.history_of(snap["events"])
    c1, c2 = st.columns([3, 2])
    if history:
        c1.plotly_chart(charts.loss_curves(history), key="train_losses")
    if samples is not None:
        c2.image(charts.image_grid(samples, cols=4, scale=4),
                 caption="Generated samples (fixed latent vectors), last epoch")
    if snap["status"] == "stopped":
        st.warning("Training was stopped; the finished epochs are saved as a model.")
    if snap["status"] in ("done", "stopped") and snap["result"]:
        st.success(f"Saved to {snap['result']}.")
        if st.button("Use this model", key="train_use", type="primary"):
            st.session_state["model"] = snap["result"]
            st.rerun(scope="app")
    elif snap["status"] == "failed":
        st.error(f"Training failed: {snap['error']}")
