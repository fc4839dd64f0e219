"""Display pieces that more than one line of a page needs: what a page shows of a result.

Pages stay "widgets -> one call into the package -> display"; the longer displays are here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ganmc import bundle, quality, service
from ganmc.cardtext import tasks_text
from ganmc.config import FRAMING_WORDS
from ganmc.devices import describe_device
from ganmc.errors import GanmcError
from ganmc.montecarlo import FINE_BINS
from ganmc.presets import network_of
from ganmc.tracker import CALIBRATING, describe
from ui import caches, charts


def expected_speed(det, key, last) -> tuple[float, str]:
    """Samples/s to expect before a run: the session's ``last`` run if it was of this model
    and score at this precision (stopped ones too), else a short timed batch on this machine
    now (measured once per model, score and precision). Never the speed stored with the
    model: that was measured another day, maybe on another machine or under another load."""
    if last is not None:
        p, k = last.snapshot()["progress"], last.params.get("key")
        same = ("model", "stamp", "scorer", "precision")
        if (p is not None and p.samples_per_s > 0 and k is not None
                and all(getattr(k, f) == getattr(key, f) for f in same)):
            return p.samples_per_s, "your last run of this score"
    return (caches.measured_speed(det, key.model, key.stamp, key.scorer, key.precision),
            "a short timed batch on this machine")


def simulation_figure(det, result, level):
    """The histogram of a run, with the held-out real digits drawn over it."""
    holdout = det.holdout_scores_.get(result.scorer)
    overlay = det.calibration_of(result.scorer, "holdout").distribution if (
        holdout is not None) else None
    return charts.histogram(result.distribution, result.threshold(level),
                            overlay=overlay, overlay_name="held-out real normal images (scaled)",
                            title=f"Scores of {result.n:,} generated images")


def simulation(det, result, level) -> None:
    """A finished run: its histogram, its numbers, and the Detect page's images at its
    threshold."""
    s = service.simulation_summary(det, result, level)
    st.plotly_chart(simulation_figure(det, result, level), key="mc_hist")
    st.caption(f"Score: {result.scorer}.")
    simulation_numbers(s, result, level)
    scored = st.session_state.get("scored") or []
    if scored:
        st.subheader("Images scored on the Detect page, at this threshold")
        decision = service.decide(det, service.Choice(result.scorer, "monte-carlo", level),
                                  result)
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
        ks = s["ks"]
        show = st.warning if ks["differ"] else st.info
        show(f"**Monte Carlo against real.** {ks['reading']}  \n"
             f"**Measured on {s['holdout_n']:,} held-out real normal images**, this Monte Carlo "
             f"threshold flags "
             f"**{service.far_from_nominal(s['false_alarm_rate_on_holdout'], level)}**. The "
             f"hold-out (conformal) threshold at the same level is "
             f"**{s['holdout_threshold']:.4g}** and guarantees at most "
             f"{100 * level.alpha:.3g}% on average.")
    st.caption(f"{result.n:,} samples in {result.seconds:.1f} s "
               f"({result.samples_per_s:,.0f} samples/s, {s['precision']}); "
               + ("exact quantiles" if result.distribution.exact else
                  f"quantiles from a {FINE_BINS:,}-bin streaming histogram"))


@st.fragment(run_every=1.0)
def training_live(registry, running) -> None:
    """The Train page's live view: the session's job, else the server's running or latest one
    (a reload starts a new session: finished jobs are shown too)."""
    own = registry.get(st.session_state.get("train_job"))
    job = registry.running("train") or own or registry.latest("train")
    if job is None:
        st.info("No training job yet. Choose the settings above and press Start training.")
        return
    if own is None and not job.running:
        st.caption("The latest training job on this server (started before the page was "
                   "reloaded, or from another browser).")
    training_job(job)
    if running is not None and not job.running and job.id == running.id:
        st.rerun()  # the job ended: one full run enables Start again


def training_job(job) -> None:
    """A training job's status, Stop button, progress, loss curves, samples and outcome."""
    snap = job.snapshot()
    p, params = snap["progress"], snap["params"]
    st.subheader(f"Job {params.get('name')} — {snap['status']}")
    custom = ", ".join(f"{k.replace('_', ' ')} {params[k]:,}" for k in ("steps", "encoder_steps")
                       if params.get(k) is not None)
    task = "".join(f"{t}, " for t in tasks_text(params))
    arch = network_of(params.get("arch"), params.get("preset"))
    normal = (f"normal {params['normal']} ({FRAMING_WORDS.get(params.get('framing'), '?')} "
              f"framing)" if "normal" in params else f"digits {params.get('digits')}")
    st.caption(f"{arch}, {normal}, {params.get('preset')} "
               f"preset{f' ({custom})' if custom else ''}, batch {params.get('batch_size')}, "
               f"{task}seed {params.get('seed')}, data {params.get('data')}; device "
               f"{describe_device()}")
    stopping = snap["status"] == "running" and snap["stop_requested"]
    if snap["status"] == "running":
        # The callback only asks: the page that follows says "Stopping…" at once, and the
        # next poll shows the saved model.
        st.button("Stop training", key="train_stop", disabled=stopping, on_click=job.stop)
    if stopping:
        st.progress(min(p.fraction, 1.0) if p else 0.0,
                    text="Stopping… the steps end now; then the fast scores are calibrated on "
                         "the held-out digits and the model is saved.")
    elif p is None:
        if snap["status"] == "running":  # a job that failed while loading has no bar
            st.progress(0.0, text="Loading data and building the networks…")
    elif snap["status"] != "running":  # an ended job has no time left to estimate
        st.progress(min(p.fraction, 1.0), text=f"{snap['status']}: {p.phase} step "
                                               f"{p.step:,}/{p.steps:,}")
    else:
        calibrating = p.round_end and p.fraction >= 1.0
        st.progress(min(p.fraction, 1.0), text=CALIBRATING if calibrating else describe(p))
    history, samples, curve = charts.history_of(snap["events"])
    c1, c2, c3 = st.columns([5, 5, 3])
    if history:
        c1.plotly_chart(charts.loss_curves(history), key="train_losses")
    if curve:
        c2.plotly_chart(charts.quality_curve(curve), key="train_quality")
    if samples is not None:
        c3.image(charts.image_grid(samples, cols=4, scale=3),
                 caption="Generated samples (fixed latent vectors), last round")
    if snap["status"] == "stopped":
        st.warning("Training was stopped; the finished steps are saved as a model.")
    if snap["status"] in ("done", "stopped") and snap["result"]:
        st.success(f"Saved to {snap['result']}.")
        quality_card(*saved_quality(snap["result"]), folder=snap["result"])
        if st.button("Use this model", key="train_use", type="primary"):
            st.session_state["model"] = snap["result"]
            st.rerun(scope="app")
    elif snap["status"] == "failed":
        st.error(f"Training failed: {snap['error']}")


def assess_button(folder: str) -> None:
    """Measure a saved model's quality card (what ``ganmc assess`` does), for a stopped run."""
    if st.button("Measure its quality card", key="train_assess",
                 help="Scores the held-out digits and the test sets with the saved model "
                      "(a minute or so) and adds the quality card to it."):
        try:
            with st.spinner("Measuring the model's quality…"):
                service.assess_model(folder)
        except GanmcError as exc:
            st.error(f"The quality card could not be measured: {exc}")
            return
        st.rerun()


def saved_quality(folder: str) -> tuple[dict | None, int | None]:
    """The quality card of a saved model folder (None when it has none or cannot be read)
    and its number of held-out images."""
    try:
        card = bundle.read_card(folder)
    except GanmcError:
        return None, None
    return card.get("quality"), (card.get("metadata") or {}).get("n_calibration")


def quality_card(q: dict | None, held_out: int | None = None, folder: str | None = None
                 ) -> None:
    """The model's quality card: the reading in words, then the figures as a table
    (``held_out``: the model's held-out images, which say why a card is missing; ``folder``:
    the model's, for a button that measures a missing card)."""
    st.markdown("**Quality card**")
    if not q:
        if held_out == 0:
            st.info(quality.NO_HOLDOUT)
            return
        st.info("No quality card: the model was trained before ganmc measured one, or its "
                "training was stopped.")
        if folder is not None and held_out:
            assess_button(folder)
        return
    show = {"good": st.success, "usable": st.warning}.get(q["reading"], st.error)
    show(q["words"])
    at = f"{100 * q.get('detection_alpha', 0.05):g} %"
    # A plain table with short headings: it wraps to a phone's width instead of scrolling.
    st.table([{"test set": name, "n": f"{r['n']:,}", "AUROC": f"{r['auroc']:.3f}",
               "caught": f"{100 * r['detection']:.1f} %"} for name, r in q["sets"].items()],
             hide_index=True)
    if q.get("before_calibration"):
        st.caption(quality.before_calibration(q))
    st.caption(f"False alarms of the verdict threshold on {q['n_normal']:,} held-out normal "
               f"images ({q['scorer']} score): " + ", ".join(
                   f"{100 * v:.1f} % at a nominal {100 * float(a):g} %"
                   for a, v in q["false_alarm"].items())
               + f". n: images in the set; caught: its share flagged at {at} false alarms; "
                 "AUROC: the chance that an image of the set scores above a normal one "
                 "(1 = always, 0.5 = a coin toss).")
