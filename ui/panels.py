"""Display pieces that more than one line of a page needs: what a page shows of a result.

Pages stay "widgets -> one call into the package -> display"; the longer displays are here.
"""

from __future__ import annotations

import streamlit as st

from ganmc import quality, service
from ganmc.cardtext import tasks_text
from ganmc.devices import describe_device
from ganmc.montecarlo import FINE_BINS
from ganmc.presets import network_of
from ganmc.tracker import CALIBRATING, describe
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
    custom = ", ".join(f"{k.replace('_', ' ')} {params[k]:,}" for k in ("steps", "encoder_steps")
                       if params.get(k) is not None)
    task = "".join(f"{t}, " for t in tasks_text(params))
    arch = network_of(params.get("arch"), params.get("preset"))
    st.caption(f"{arch}, digits {params.get('digits')}, {params.get('preset')} "
               f"preset{f' ({custom})' if custom else ''}, batch {params.get('batch_size')}, "
               f"{task}seed {params.get('seed')}, data {params.get('data')}; device "
               f"{describe_device()}")
    if snap["status"] == "running":
        # The callback runs before the page does: the steps stop within one compiled call and
        # the page that follows shows the saved model, not "stopping" until the next poll.
        st.button("Stop training", key="train_stop", disabled=snap["stop_requested"],
                  on_click=job.stop_and_wait)
    if p is None:
        st.progress(0.0, text="Loading data and building the networks…")
    else:
        calibrating = snap["status"] == "running" and p.round_end and p.fraction >= 1.0
        text = CALIBRATING if calibrating else describe(p)
        if snap["status"] == "running" and snap["stop_requested"]:
            text = "Stopping: calibrating the fast scores on the held-out digits and saving…"
        st.progress(min(p.fraction, 1.0), text=text)
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
        quality_card(*saved_quality(snap["result"]))
        if st.button("Use this model", key="train_use", type="primary"):
            st.session_state["model"] = snap["result"]
            st.rerun(scope="app")
    elif snap["status"] == "failed":
        st.error(f"Training failed: {snap['error']}")


def saved_quality(folder: str) -> tuple[dict | None, int | None]:
    """The quality card of a saved model folder (None when it has none or cannot be read)
    and its number of held-out images."""
    from ganmc import bundle
    from ganmc.errors import GanmcError

    try:
        card = bundle.read_card(folder)
    except GanmcError:
        return None, None
    return card.get("quality"), (card.get("metadata") or {}).get("n_calibration")


def quality_card(q: dict | None, held_out: int | None = None) -> None:
    """The model's quality card: the reading in words, then the figures as a table
    (``held_out``: the model's held-out images, which say why a card is missing)."""
    st.markdown("**Quality card**")
    if not q:
        st.info(quality.card_lines(q, held_out)[0])
        return
    show = {"good": st.success, "usable": st.warning}.get(q["reading"], st.error)
    show(q["words"])
    rows = [{"test set": name, "images": r["n"], "AUROC": f"{r['auroc']:.3f}",
             f"caught at {100 * q.get('detection_alpha', 0.05):g} % false alarms":
                 f"{100 * r['detection']:.1f} %"} for name, r in q["sets"].items()]
    st.dataframe(rows, hide_index=True)
    st.caption(f"False alarms of the verdict threshold on {q['n_normal']:,} held-out normal "
               f"images ({q['scorer']} score): " + ", ".join(
                   f"{100 * v:.1f} % at a nominal {100 * float(a):g} %"
                   for a, v in q["false_alarm"].items())
               + ". AUROC: the chance that an image of the set scores above a normal one "
                 "(1 = always, 0.5 = a coin toss).")
