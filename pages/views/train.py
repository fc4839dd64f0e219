"""Train: settings, Start / Stop, and a live view of the (one, global) training job."""

import streamlit as st

from ganmc import bundle, service
from ganmc.config import ARCHS, DEFAULT_KAPPA
from ganmc.errors import GanmcError
from ganmc.tracker import CALIBRATING, describe
from ganmc.train import checkpoint_dir, describe_device
from ui import charts, state

MAX_UI_EPOCHS = 200

st.title("Train a model")
st.caption(f"Training runs in the background on {describe_device()}: you can leave this page, "
           f"reload the browser or use other pages meanwhile. One training job runs at a time.")

registry = state.jobs()
running = registry.running("train")

with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    source = c1.selectbox("Data", ["auto", "bundled", "keras"], key="train_data",
                          help="auto: Keras' MNIST download, or the bundled 10,000 digits "
                               "offline. bundled: always the bundled digits.")
    digits = c1.multiselect("Normal digits", list(range(10)), default=list(range(10)),
                            key="train_digits",
                            help="Only these are normal; pick one for the one-class protocol.")
    kappa = c1.number_input("Feature weight κ", 0.0, 10_000.0, DEFAULT_KAPPA, key="train_kappa",
                            help="Weight of the discriminator-feature residual in the fanogan "
                                 "score (and the encoder's loss).")
    arch = c2.radio("Preset", ARCHS, key="train_arch", horizontal=True,
                    help="dcgan: small convolutional GAN. mlp: the seed notebook's network.")
    epochs = c2.number_input("GAN epochs", 1, MAX_UI_EPOCHS, 5, key="train_epochs")
    enc_epochs = c2.number_input("Encoder epochs (0 = none)", 0, MAX_UI_EPOCHS, 5,
                                 key="train_enc_epochs")
    batch = c3.select_slider("Batch size", [32, 64, 128, 256, 512], value=64, key="train_batch")
    latent = c3.number_input("Latent size (0 = preset default)", 0, 512, 0, key="train_latent")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
    name = st.text_input("Model name", value="my-model", key="train_name",
                         help=f"Saved as {state.MODELS_DIR}/NAME.")
    c4, c5 = st.columns(2)
    replace = c4.checkbox("Replace a model of the same name", key="train_replace")
    resume = c5.checkbox("Continue an interrupted run of this name", key="train_resume")
    start = st.form_submit_button("Start training", type="primary", disabled=running is not None)


def start_job() -> None:
    if not digits:
        st.error("Choose at least one normal digit.")
        return
    try:
        folder = state.MODELS_DIR / bundle.safe_name(name)
    except GanmcError as exc:
        st.error(str(exc))
        return
    if (folder / bundle.CARD).exists() and not replace:
        st.error(f"A model named {folder.name} exists; tick 'Replace' or choose another name.")
        return
    if resume and not checkpoint_dir(folder).exists():
        st.error(f"There is no interrupted run of {folder.name} to continue.")
        return
    settings = {"arch": arch, "epochs": int(epochs), "encoder_epochs": int(enc_epochs),
                "batch_size": int(batch), "latent_dim": int(latent) or None,
                "kappa": float(kappa), "seed": int(seed)}

    def work(job):
        service.train(folder, data=source, digits=tuple(digits), resume=resume,
                      stop_event=job.stop_event,
                      progress=lambda p: job.report(p, keep=p.epoch_end), **settings)
        return str(folder)

    try:
        job = registry.start("train", work, owner=st.session_state["session_id"], exclusive=True,
                             params={"name": folder.name, "data": source, "digits": digits,
                                     **settings})
    except GanmcError as exc:  # BusyError: someone else is training
        st.error(str(exc))
        return
    st.session_state["train_job"] = job.id


if start:
    start_job()


@st.fragment(run_every=1.0)
def live() -> None:
    job = registry.running("train") or registry.get(st.session_state.get("train_job"))
    if job is None:
        st.info("No training job yet. Choose the settings above and press Start training.")
        return
    snap = job.snapshot()
    p = snap["progress"]
    params = snap["params"]
    st.subheader(f"Job {params.get('name')} — {snap['status']}")
    st.caption(f"{params.get('arch')}, digits {params.get('digits')}, {params.get('epochs')} + "
               f"{params.get('encoder_epochs')} epochs, batch {params.get('batch_size')}, "
               f"seed {params.get('seed')}, data {params.get('data')}; device "
               f"{describe_device()}")
    stop = snap["status"] == "running" and st.button(
        "Stop training", key="train_stop", disabled=snap["stop_requested"])
    if stop:
        job.stop()
        st.toast("Stopping within a few steps…")
    if p is None:
        st.progress(0.0, text="Loading data and building the networks…")
    else:
        calibrating = snap["status"] == "running" and p.epoch_end and p.fraction >= 1.0
        st.progress(min(p.fraction, 1.0), text=CALIBRATING if calibrating else describe(p))
    history, samples = charts.history_of(snap["events"])
    c1, c2 = st.columns([3, 2])
    with c1:
        if history:
            st.plotly_chart(charts.loss_curves(history), key="train_losses")
    with c2:
        if samples is not None:
            st.image(charts.image_grid(samples, cols=4, scale=4),
                     caption="Generated samples (fixed latent vectors), last epoch")
    if snap["status"] == "done":
        st.success(f"Saved to {snap['result']}.")
        if st.button("Use this model", key="train_use", type="primary"):
            st.session_state["model"] = snap["result"]
            st.rerun(scope="app")
    elif snap["status"] == "stopped":
        st.warning("Training was stopped; the finished epochs are saved as a model.")
    elif snap["status"] == "failed":
        st.error(f"Training failed: {snap['error']}")


live()
