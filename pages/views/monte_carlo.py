"""Monte Carlo: simulate N generated images, watch the histogram grow, slide the threshold."""

import streamlit as st

from ganmc.app import service
from ganmc.core.config import PRECISIONS, SEED_MAX
from ganmc.core.errors import GanmcError
from ganmc.nets.tracker import eta_text
from ganmc.thresholds.montecarlo import MAX_SAMPLES
from ui import caches, controls, session
from ui import monte_carlo as view

UI_MAX_SAMPLES = min(MAX_SAMPLES, 10_000_000)
#: How often the page looks at a running simulation, and how often at most the growing
#: histogram is drawn again: on a machine the browser shares with the simulation, each look
#: and each drawing (the browser's most of all) is CPU time taken from the simulation.
POLL_S, REDRAW_S = 2.0, 4.0

st.title("Monte Carlo threshold")
det = caches.detector()
st.markdown("The generator draws **N** synthetic images; each is scored. Their scores estimate "
            "the distribution of scores of normal images, and the **P-th percentile** is the "
            "threshold. Moving the percentile re-reads the same simulation: nothing is "
            "re-simulated.")

c1, c2, c3, c5, c4 = st.columns([2, 1, 1, 1, 1])
with c1:
    session.kept(st.number_input, "mc_samples", "Samples (N)", page="mc", min_value=1_000,
                 max_value=UI_MAX_SAMPLES, step=10_000,
                 help=f"From 1,000 to {UI_MAX_SAMPLES:,} generated images.")
with c2:
    session.kept(st.number_input, "mc_seed", "Seed", page="mc", min_value=0, max_value=SEED_MAX)
with c3:
    session.kept(st.selectbox, "scorer", "Anomaly score", page="mc",
                 options=["auto", *det.scorers_])
with c5:
    session.kept(st.selectbox, "mc_precision", "Precision", page="mc", options=list(PRECISIONS),
                 help="bfloat16 runs faster where the hardware has it (AVX-512 BF16 / AMX "
                      "CPUs, GPUs); auto picks it there.")
key = controls.mc_key(det)
registry, store = caches.jobs(), caches.results()
owner = st.session_state["session_id"]
with c4:
    st.write("")
    done_already = store.get(key) is not None
    run = st.button("Run simulation", type="primary", key="mc_run", disabled=done_already)
    if done_already:
        st.caption("Done with these settings: change N, the seed, the score or the precision "
                   "to run another.")

last_run = registry.latest("simulate", owner=owner)
busy = last_run is not None and last_run.running
try:
    rate, basis = view.expected_speed(det, key, last_run)
    expected_s = key.samples / rate
except GanmcError as exc:
    rate, basis, expected_s = None, str(exc), float("nan")
if not done_already and not run and not busy:
    st.caption(f"{key.samples:,} samples should take about **{eta_text(expected_s)}** "
               f"({rate:,.0f} samples/s, from {basis}); Stop ends a run early." if rate else
               f"No time estimate: {basis}.")

if run:
    if busy:
        last_run.stop()

    def work(job, det=det, key=key):
        result = service.simulate(det, key.samples, seed=key.seed, scorer=key.scorer,
                                  precision=key.precision, progress=job.report,
                                  stop_event=job.stop_event)
        if result.done:
            store.put(key, result)
        return result

    registry.start("simulate", work, owner=owner, params={"key": key})

controls.percentile_slider("mc")
level = session.level()


@st.fragment(run_every=POLL_S)
def live() -> None:
    job = registry.latest("simulate", owner=owner)
    if job is None or job.params.get("key") != key:
        return
    if not job.running:
        st.rerun()  # finished: one full rerun shows the final result and the summary
    partial = job.snapshot()["progress"]
    if partial is None:  # the ETA from the estimate shown before the run
        st.progress(0.0, text=f"Starting: 0 / {key.samples:,} samples — the first batch is "
                              f"being generated and scored — ETA {eta_text(expected_s)}")
    else:
        left = (partial.n_target - partial.n) / max(partial.pace, 1e-9)
        st.progress(partial.n / partial.n_target,
                    text=f"{partial.n:,} / {partial.n_target:,} samples — "
                         f"{partial.pace:,.0f} samples/s — ETA {eta_text(left)}")
    st.button("Stop", key="mc_stop", help="Stops after the batch being scored.",
              on_click=job.stop_and_wait)
    shown = partial if partial is not None else det.monte_carlo_.get(key.scorer)
    if shown is not None:  # the model's stored run stays on screen until a batch is in
        fig = session.throttled("mc_live_figure", (job.id, shown.n, level), REDRAW_S,
                                lambda: view.simulation_figure(det, shown, shown.threshold(level)))
        st.plotly_chart(fig, key="mc_hist_live")
        if partial is None:
            st.caption("The model's stored run, until the first batch is in.")


job = last_run if not run else registry.latest("simulate", owner=owner)
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
    view.simulation(det, done, level)
elif det.monte_carlo_.get(key.scorer) is not None:
    stored = det.monte_carlo_[key.scorer]
    st.info(f"Showing the model's stored simulation ({stored.n:,} samples). Press Run "
            f"simulation for {key.samples:,} samples with seed {key.seed}.")
    view.simulation(det, stored, level)
else:
    st.info("Press Run simulation to estimate the score distribution.")
