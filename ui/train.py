"""What the Train page shows of a training job: its progress live, its charts and samples,
and its quality card once it has finished."""

from __future__ import annotations

import streamlit as st

from ganmc.core.config import FRAMING_WORDS
from ganmc.core.presets import network_of
from ganmc.nets.devices import describe_device
from ganmc.nets.tracker import CALIBRATING, describe
from ganmc.report import style
from ganmc.storage.cardtext import tasks_text
from ui import charts
from ui.card import quality_card, saved_quality


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
        c3.image(style.image_grid(samples, cols=4, scale=3),
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
