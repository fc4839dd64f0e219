"""Train: settings, Start / Stop, and a live view of the (one, global) training job."""

import streamlit as st

from ganmc import service
from ganmc.config import ARCHS, DEFAULT_KAPPA
from ganmc.errors import ConfigError, GanmcError
from ganmc.train import describe_device
from ui import panels, state

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
    settings = {"arch": arch, "epochs": int(epochs), "encoder_epochs": int(enc_epochs),
                "batch_size": int(batch), "latent_dim": int(latent) or None,
                "kappa": float(kappa), "seed": int(seed)}
    try:
        if not digits:
            raise ConfigError("choose at least one normal digit")
        folder = service.model_folder(state.MODELS_DIR, name, replace=replace, resume=resume)

        def work(job):
            service.train(folder, data=source, digits=tuple(digits), resume=resume,
                          stop_event=job.stop_event,
                          progress=lambda p: job.report(p, keep=p.epoch_end), **settings)
            return str(folder)

        job = registry.start("train", work, owner=st.session_state["session_id"], exclusive=True,
                             params={"name": folder.name, "data": source, "digits": digits,
                                     **settings})
    except GanmcError as exc:  # a bad name, an existing model, someone else training
        st.error(f"Training was not started: {exc}.")
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
    panels.training_job(job)


live()
