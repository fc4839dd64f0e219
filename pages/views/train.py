"""Train: settings, Start / Stop, and a live view of the (one, global) training job."""

import streamlit as st

from ganmc.app import service
from ganmc.core.config import (
    ARCH_ABOUT,
    ARCHS,
    AUTO,
    DATA_CHOICES,
    DEFAULT_KAPPA,
    MAX_STEPS,
    SEED_MAX,
    TrainConfig,
)
from ganmc.core.errors import ConfigError, GanmcError
from ganmc.core.presets import DEFAULT_PRESET, MAX_TASK_WEIGHT, PRESETS, TASKS
from ganmc.nets.devices import describe_device
from ganmc.nets.tracker import eta_text
from ganmc.storage import bundle
from ui import caches, pictures, session
from ui import train as view

st.title("Train a model")
st.caption(f"Training runs in the background on {describe_device()}: you can leave this page, "
           f"reload the browser or use other pages meanwhile. One training job runs at a time.")

registry = caches.jobs()
running = registry.running("train")
kept = session.kept  # settings outlive a visit to another page; only the button starts a job

OWN = "own"
what = kept(st.radio, "train_source", "Normal images", "mnist", options=["mnist", OWN],
            format_func={"mnist": "MNIST's digits", OWN: "Your own pictures"}.get,
            horizontal=True,
            help="MNIST's handwritten digits (pick the normal ones), or pictures of your own: "
                 + pictures.LAYOUT_HELP)
found = None
if what == OWN:
    found = pictures.choose()
    if found is not None:
        pictures.show(found)
    digits = []
else:
    digits = sorted(kept(st.pills, "train_digits", "Normal digits", list(range(10)),
                         options=list(range(10)), selection_mode="multi",
                         help="Only these are normal; pick one for the one-class protocol."))
preset = kept(st.radio, "train_preset", "Training budget", DEFAULT_PRESET,
              options=list(PRESETS), horizontal=True,
              captions=[p.about for p in PRESETS.values()],
              help="In optimiser steps, so one digit trains as long as ten. The quality card at "
                   "the end says whether the model came out good.")
with st.expander("Custom settings"):
    c1, c2, c3 = st.columns(3)
    source = kept(c1.selectbox, "train_data", "MNIST data", "auto",
                  options=list(DATA_CHOICES), disabled=what == OWN,
                  help="auto: Keras' MNIST download, or the bundled 10,000 digits offline. "
                       "bundled: always the bundled digits. (Your own pictures are chosen "
                       "above.)")
    kappa = kept(c1.number_input, "train_kappa", "Weight of the feature difference",
                 DEFAULT_KAPPA, min_value=0.0, max_value=10_000.0,
                 help="How much the difference between the discriminator's view of an image "
                      "and of its reconstruction counts in the fanogan score (κ; the pixel "
                      "difference counts 1).")
    arch = kept(c2.radio, "train_arch", "Network", AUTO, options=(AUTO, *ARCHS),
                horizontal=True, format_func=lambda a: f"the preset's ({PRESETS[preset].arch})"
                if a == AUTO else a,
                help=" ".join(f"{name}: {about}." for name, about in ARCH_ABOUT.items()))
    steps = kept(c2.number_input, "train_steps", "GAN steps", None, min_value=1,
                 max_value=MAX_STEPS, placeholder=f"the preset's ({PRESETS[preset].steps:,})")
    enc_steps = kept(c2.number_input, "train_enc_steps", "Encoder steps (0 = none)", None,
                     min_value=0, max_value=MAX_STEPS,
                     placeholder=f"the preset's ({PRESETS[preset].encoder_steps:,})",
                     help="The encoder lets the model redraw images (the fanogan score).")
    batch = kept(c3.select_slider, "train_batch", "Batch size", AUTO,
                 options=[AUTO, 32, 64, 128, 256, 512],
                 format_func=lambda b: f"the preset's ({PRESETS[preset].batch_size})"
                 if b == AUTO else str(b))
    latent = kept(c3.number_input, "train_latent", "Latent size (0 = the network's default)", 0,
                  min_value=0, max_value=512)
    seed = kept(c3.number_input, "train_seed", "Seed", 0, min_value=0, max_value=SEED_MAX)
    # the extra tasks (config.TASKS): train_rotation, train_jigsaw, train_shape; an empty
    # box (the shape network's default) leaves the choice to the settings' rule
    weights = {name: kept((c1, c2)[i % 2].number_input, "train_" + name.removesuffix("_weight"),
                          f"{task.words[0].upper()}{task.words[1:]} weight (0 = none)",
                          getattr(TrainConfig, name), min_value=0.0,
                          max_value=MAX_TASK_WEIGHT, step=0.5, help=task.help() + ".",
                          placeholder=f"{task.default:g} for several digits, 0 for one")
               for i, (name, task) in enumerate(TASKS.items())}
name = kept(st.text_input, "train_name", "Model name", "my-model",
            help=f"Saved as {session.MODELS_DIR}/NAME.")
try:
    if (saved_as := bundle.safe_name(name)) != name:
        st.caption(f"Will be saved as **{saved_as}**: a model name keeps letters, digits and "
                   f". _ - (no folders).")
except GanmcError as exc:
    st.warning(f"{exc}.")
c4, c5 = st.columns(2)
replace = kept(c4.checkbox, "train_replace", "Replace a model of the same name", False)
resume = kept(c5.checkbox, "train_resume", "Continue an interrupted run of this name", False)
settings = {"arch": None if arch == AUTO else arch, "preset": preset, "steps": steps,
            "encoder_steps": enc_steps, "batch_size": None if batch == AUTO else int(batch),
            "latent_dim": int(latent) or None, "kappa": float(kappa),
            **{name: None if w is None else float(w) for name, w in weights.items()},
            "seed": int(seed)}
try:  # none while a job runs: it could not start, and the job would slow the timing
    normal = (found.normal_settings() if found is not None
              else {"digits": tuple(digits or (0,))})
    if running is None:
        seconds, basis = service.time_estimate({**settings, **normal}, session.MODELS_DIR,
                                               speed=caches.machine_speed())
        st.caption(f"Estimated time: **{eta_text(seconds)}** ({basis}).")
    else:
        st.caption("No time estimate while a training job runs: its progress below has "
                   "the ETA.")
except GanmcError as exc:
    st.caption(f"No time estimate: {exc}.")
start = st.button("Start training", type="primary", key="train_start",
                  disabled=running is not None,
                  help="A training job is running; it can be stopped below." if running
                  else None)


def start_job() -> None:
    try:
        if what == OWN:
            if found is None:
                raise ConfigError("give your pictures first")
            found.check_trainable()
            data, chosen = found, None
            normal = {"data": found.source, "normal": ", ".join(found.classes) if found.classes
                      else "your pictures (one class)", "framing": found.framing}
        else:
            if not digits:
                raise ConfigError("choose at least one normal digit")
            data, chosen = source, tuple(digits)
            normal = {"data": source, "digits": digits}
        folder = service.model_folder(session.MODELS_DIR, name, replace=replace, resume=resume)

        def work(job):
            service.train(folder, data=data, digits=chosen, resume=resume,
                          replace=replace, stop_event=job.stop_event,
                          progress=lambda p: job.report(p, keep=p.round_end), **settings)
            return str(folder)

        job = registry.start("train", work, owner=st.session_state["session_id"], exclusive=True,
                             params={"name": folder.name, **normal, **settings})
    except GanmcError as exc:  # a bad name, an existing model, someone else training
        st.error(f"Training was not started: {exc}.")
        return
    st.session_state["train_job"] = job.id
    st.rerun()  # Start greys out at once


if start:
    start_job()


view.training_live(registry, running)
