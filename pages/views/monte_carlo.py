"""Monte Carlo: simulate N generated images, watch the histogram grow, slide the threshold."""

import numpy as np
import pandas as pd
import streamlit as st

from ganmc import service
from ganmc.config import PRECISIONS
from ganmc.montecarlo import MAX_SAMPLES
from ganmc.tracker import eta_text
from ganmc.train import describe_device
from ui import charts, panels, state

UI_MAX_SAMPLES = min(MAX_SAMPLES, 10_000_000)

st.title("Monte Carlo threshold")
det = state.detector()
st.markdown("The generator draws **N** synthetic digits; each is scored. Their scores estimate "
            "the distribution of scores of normal images, and the **P-th percentile** is the "
            "threshold. Moving the percentile re-reads the same simulation: nothing is "
            "re-simulated.")

c1, c2, c3, c5, c4 = st.columns([2, 1, 1, 1, 1])
with c1:
    state.synced(st.number_input, "mc_samples", "mc", "Samples (N)", min_value=1_000,
                 max_value=UI_MAX_SAMPLES, step=10_000,
                 help=f"From 1,000 to {UI_MAX_SAMPLES:,} generated images.")
with c2:
    state.synced(st.number_input, "mc_seed", "mc", "Seed", min_value=0, max_value=2**31 - 1)
with c3:
    state.synced(st.selectbox, "scorer", "mc", "Anomaly score", options=["auto", *det.scorers_])
with c5:
    state.synced(st.selectbox, "mc_precision", "mc", "Precision", options=list(PRECISIONS),
                 help="bfloat16 runs faster where the hardware has it (AVX-512 BF16 / AMX "
                      "CPUs, GPUs); auto picks it there.")
key = state.mc_key(det)
registry, store = state.jobs(), state.results()
owner = st.session_state["session_id"]
with c4:
    st.write("")
    done_already = store.get(key) is not None
    run = st.button("Run simulation", type="primary", key="mc_run", disabled=done_already)
    if done_already:
        st.caption("Done with these settings: change N, the seed, the score or the precision "
                   "to run another.")


def expected_speed(last) -> tuple[float, str] | None:
    """Samples/s to expect before a run: the session's ``last`` run, if of this model and
    score at this precision (stopped ones too), else the model's own run when it was saved on
    a machine like this one."""
    if last is not None:
        p, k = last.snapshot()["progress"], last.params.get("key")
        same = ("model", "stamp", "scorer", "precision")
        if (p is not None and p.samples_per_s > 0 and k is not None
                and all(getattr(k, f) == getattr(key, f) for f in same)):
            return p.samples_per_s, "your last run of this score"
    stored = det.monte_carlo_.get(key.scorer)
    if (stored is not None and stored.samples_per_s > 0
            and det.metadata_.get("device") == describe_device()):
        return stored.samples_per_s, "the model's own run when it was saved"
    return None


last_run = registry.latest("simulate", owner=owner)
busy = last_run is not None and last_run.running
if not done_already and not run and not busy and (speed := expected_speed(last_run)) is not None:
    rate, basis = speed
    st.caption(f"{key.samples:,} samples should take about **{eta_text(key.samples / rate)}** "
               f"({rate:,.0f} samples/s, from {basis}); Stop ends a run early.")

if run:
    previous = registry.latest("simulate", owner=owner)
    if previous is not None and previous.running:
        previous.stop()

    def work(job, det=det, key=key):
        result = service.simulate(det, key.samples, seed=key.seed, scorer=key.scorer,
                                  precision=key.precision, progress=job.report,
                                  stop_event=job.stop_event)
        if result.done:
            store.put(key, result)
        return result

    registry.start("simulate", work, owner=owner, params={"key": key})

percentile = state.synced(st.slider, "percentile", "mc", "Percentile (threshold level)",
                          min_value=state.PERCENTILE_RANGE[0],
                          max_value=state.PERCENTILE_RANGE[1], step=0.1)
level = state.level()


def figure(result, threshold: float, note: str = ""):
    holdout = det.holdout_scores_.get(result.scorer)
    overlay = det.calibration_of(result.scorer, "holdout").distribution if (
        holdout is not None) else None
    return charts.histogram(result.distribution, threshold, overlay=overlay,
                            overlay_name="held-out real normal digits (scaled)",
                            title=f"Scores of {result.n:,} generated images ({result.scorer})"
                                  + note)


def show_live(result, job_id: str, note: str = "") -> None:
    """The growing histogram: drawn again only when a batch has come in (a poll a second
    otherwise redraws the same picture, and the page's work slows the simulation)."""
    fig = state.reuse("mc_live_figure", (job_id, result.n, result.seconds, level),
                      lambda: figure(result, result.threshold(level.percentile), note))
    st.plotly_chart(fig, key="mc_hist_live")


def show(result) -> None:
    s = service.simulation_summary(det, result, level)
    st.plotly_chart(figure(result, s["threshold"]), key="mc_hist")
    panels.simulation_numbers(s, result, level)
    scored = st.session_state.get("scored") or []
    if scored:
        st.subheader("Images scored on the Detect page, at this threshold")
        decision = service.decide(det, service.Choice(result.scorer, "monte-carlo", level),
                                  result)
        verdicts = service.score(det, np.stack([img for _, img in scored]), decision)
        st.dataframe(pd.DataFrame(
            [{"image": n, "score": v.score, "p-value": v.p_value, "verdict": v.label.upper()}
             for (n, _), v in zip(scored, verdicts)]), hide_index=True, key="mc_scored")


@st.fragment(run_every=1.0)  # a poll a second: the page's own work slows the simulation
def live() -> None:
    job = registry.latest("simulate", owner=owner)
    if job is None or job.params.get("key") != key:
        return
    if not job.running:
        st.rerun()  # finished: one full rerun shows the final result and the summary
    partial = job.snapshot()["progress"]
    if partial is None:
        st.progress(0.0, text=f"Starting: 0 / {key.samples:,} samples — the first batch is "
                              f"being generated and scored — ETA {eta_text(float('nan'))}")
    else:
        left = (partial.n_target - partial.n) / max(partial.samples_per_s, 1e-9)
        st.progress(partial.n / partial.n_target,
                    text=f"{partial.n:,} / {partial.n_target:,} samples — "
                         f"{partial.samples_per_s:,.0f} samples/s — ETA {eta_text(left)}")
    st.button("Stop", key="mc_stop", help="Stops after the batch being scored.",
              on_click=job.stop_and_wait)
    if partial is not None:
        show_live(partial, job.id)
    elif det.monte_carlo_.get(key.scorer) is not None:  # stays on screen until a batch is in
        show_live(det.monte_carlo_[key.scorer], job.id,
                  " — the model's stored run, until the first batch is in")


job = registry.latest("simulate", owner=owner)
done = store.get(key)
if job is not None and job.params.get("key") == key and job.status in ("failed", "stopped"):
    snap = job.snapshot()
    if snap["status"] == "failed":
        st.error(f"The simulation failed: {snap['error']}")
    else:
        st.warning("The simulation was stopped; its partial result is not kept.")
if job is not None and job.running and job.params.get("key") == key:
    live()
elif done is not None:
    show(done)
elif det.monte_carlo_.get(key.scorer) is not None:
    stored = det.monte_carlo_[key.scorer]
    st.info(f"Showing the model's stored simulation ({stored.n:,} samples). Press Run "
            f"simulation for {key.samples:,} samples with seed {key.seed}.")
    show(stored)
else:
    st.info("Press Run simulation to estimate the score distribution.")
