"""Monte Carlo: simulate N generated images, watch the histogram grow, slide the threshold."""

import numpy as np
import pandas as pd
import streamlit as st

from ganmc.montecarlo import MAX_SAMPLES, simulate_iter
from ganmc.scoring import default_batch_size
from ganmc.verdict import judge
from ui import charts, state

UI_MAX_SAMPLES = min(MAX_SAMPLES, 10_000_000)

st.title("Monte Carlo threshold")
det = state.detector()
st.markdown("The generator draws **N** synthetic digits; each is scored. Their scores estimate "
            "the distribution of scores of normal images, and the **P-th percentile** is the "
            "threshold. Moving the percentile re-reads the same simulation: nothing is "
            "re-simulated.")

c1, c2, c3, c5, c4 = st.columns([2, 1, 1, 1, 1])
with c1:
    samples = state.synced(st.number_input, "mc_samples", "mc", "Samples (N)",
                           min_value=1_000, max_value=UI_MAX_SAMPLES, step=10_000,
                           help="From 1,000 to 10,000,000 generated images.")
with c2:
    seed = state.synced(st.number_input, "mc_seed", "mc", "Seed", min_value=0,
                        max_value=2**31 - 1)
with c3:
    scorer = state.synced(st.selectbox, "scorer", "mc", "Anomaly score",
                          options=["auto", *det.scorers_])
with c5:
    precision = state.synced(st.selectbox, "mc_precision", "mc", "Precision",
                             options=["auto", "float32", "bfloat16"],
                             help="bfloat16 runs faster where the hardware has it (AVX-512 "
                                  "BF16 / AMX CPUs, GPUs); auto picks it there.")
scorer = state.scorer_name(det)
key = state.mc_key(st.session_state["model"], scorer, samples, seed, precision)
registry = state.jobs()
owner = st.session_state["session_id"]
with c4:
    st.write("")
    run = st.button("Run simulation", type="primary", key="mc_run",
                    disabled=state.results().get(key) is not None)

if run:
    previous = registry.latest("simulate", owner=owner)
    if previous is not None and previous.running:
        previous.stop()

    store = state.results()

    def work(job, det=det, key=key):
        result = None
        for result in simulate_iter(det, int(key[3]), seed=int(key[4]), scorer=key[2],
                                    precision=key[5], batch_size=default_batch_size(key[2])):
            job.report(result)
            if job.stop_event.is_set():
                return None
        store.put(key, result)
        return result

    registry.start("simulate", work, owner=owner, params={"key": key})

percentile = state.synced(st.slider, "percentile", "mc", "Percentile (threshold level)",
                          min_value=state.PERCENTILE_RANGE[0],
                          max_value=state.PERCENTILE_RANGE[1], step=0.1)


def show(result, live: bool) -> None:
    s = result.summary(percentile)
    holdout = (det.calibration_for(scorer, "holdout") if scorer in det.holdout_scores_
               else None)
    overlay = holdout.distribution if holdout is not None else None
    fig = charts.histogram(result.distribution, s["threshold"], overlay=overlay,
                           overlay_name="held-out real normal digits (scaled)",
                           title=f"Scores of {result.n:,} generated images ({scorer})")
    st.plotly_chart(fig, key="mc_hist_live" if live else "mc_hist")
    if live:
        return
    lo, hi = s["threshold_ci95"]
    m = st.columns(5)
    m[0].metric("Threshold", f"{s['threshold']:.4g}",
                help="The percentile of the simulated scores; its 95% confidence interval "
                     "comes from order statistics.")
    m[1].metric("Mean", f"{s['mean']:.4g}")
    m[2].metric("Std", f"{s['std']:.4g}")
    m[3].metric("Min", f"{s['min']:.4g}")
    m[4].metric("Max", f"{s['max']:.4g}")
    st.markdown(f"95% confidence interval of the threshold: **{lo:.4g} – {hi:.4g}**.  \n"
                + s["interpretation"])
    far = det.monte_carlo_false_alarm(1 - percentile / 100, scorer=scorer, result=result)
    if far is not None:
        conformal = holdout.threshold(1 - percentile / 100)
        gap = "close to" if abs(far - (1 - percentile / 100)) < 0.02 else "far from"
        st.warning(
            f"**Measured on {holdout.distribution.n:,} held-out real normal digits**, this "
            f"Monte Carlo "
            f"threshold flags **{100 * far:.1f}%** of them — {gap} the nominal "
            f"{100 - percentile:.3g}%. The hold-out (conformal) threshold at the same level is "
            f"**{conformal:.4g}** and guarantees at most {100 - percentile:.3g}% on average.")
    st.caption(f"{result.n:,} samples in {result.seconds:.1f} s "
               f"({result.samples_per_s:,.0f} samples/s, "
               f"{result.extra.get('precision', 'float32')}); "
               + ("exact quantiles" if result.distribution.exact else
                  "quantiles from a 4,096-bin streaming histogram"))
    scored = st.session_state.get("scored") or []
    if scored:
        st.subheader("Images scored on the Detect page, at this threshold")
        x = np.stack([img for _, img in scored])
        verdicts = judge(det.score_samples(x, scorer=scorer), result.calibration(),
                         1 - percentile / 100)
        st.dataframe(pd.DataFrame(
            [{"image": n, "score": v.score, "p-value": v.p_value, "verdict": v.label.upper()}
             for (n, _), v in zip(scored, verdicts)]), hide_index=True, key="mc_scored")


@st.fragment(run_every=0.5)
def live() -> None:
    job = registry.latest("simulate", owner=owner)
    if job is None or job.params.get("key") != key:
        return
    if not job.running:
        st.rerun()  # finished: one full rerun shows the final result and the summary
    snap = job.snapshot()
    partial = snap["progress"]
    if partial is None:
        st.progress(0.0, text="Starting…")
        return
    st.progress(partial.n / partial.n_target,
                text=f"{partial.n:,} / {partial.n_target:,} samples — "
                     f"{partial.samples_per_s:,.0f} samples/s")
    if st.button("Stop", key="mc_stop"):
        job.stop()
    show(partial, live=True)


job = registry.latest("simulate", owner=owner)
done = state.results().get(key)
if job is not None and job.running and job.params.get("key") == key:
    live()
elif done is not None:
    show(done, live=False)
elif det.monte_carlo_.get(scorer) is not None:
    stored = det.monte_carlo_[scorer]
    st.info(f"Showing the model's stored simulation ({stored.n:,} samples). Press Run "
            f"simulation for {samples:,} samples with seed {seed}.")
    show(stored, live=False)
else:
    st.info("Press Run simulation to estimate the score distribution.")
