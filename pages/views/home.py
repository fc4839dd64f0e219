"""Overview: what ganmc does, the active model's card, and the model picker."""

from pathlib import Path

import streamlit as st

from ganmc.core.config import DIGITS, FRAMING_WORDS
from ganmc.storage.cardtext import pac_text, rate_text, seconds_text, training_text, when_text
from ui import caches, session
from ui.card import quality_card


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


st.title("ganmc — is this image normal?")
P = st.session_state["percentile"]
st.markdown(
    f"""
A **GAN** learns what normal images look like — here, handwritten MNIST digits. Every image
gets an **anomaly score** (higher = more anomalous), and a **threshold** splits NORMAL from
ANOMALY:

1. **Monte Carlo** (the original method): the trained generator draws thousands of synthetic
   digits, each is scored, and a percentile of those scores is the threshold.
2. **Hold-out calibration** (the default): real normal digits that were never trained on are
   scored, and the threshold is the **P-th percentile** of their scores (P is the Percentile
   slider, now {P:g}): the conformal rule guarantees that, on average, at most 100 − P % (now
   {100 - P:.3g} %) of new normal images are flagged, and every image gets a p-value. A model
   of several digits trained with their labels sets it **per digit** (each image against the
   held-out images of the digit it is taken for), so no digit collects more than its share of
   false alarms.
3. **Scores**: *Mahalanobis* measures how far the discriminator's view of the image lies
   from its view of the training digits (one Gaussian per digit); the *combined* score, the
   default for such models, also flags anything beyond every normal image in how fake the
   discriminator finds it or in how much of it is grey (photographs, noise); *f-AnoGAN*
   reconstructs the image through an encoder and the generator and measures what does not
   fit; the original *discriminator* score and AnoGAN's slow *latent-search* (optimising z
   per image) are kept for comparison.

**Train** a model, run the **Monte Carlo** simulation, **Detect** drawn or uploaded digits,
and export the **Report** as a PNG.
"""
)

st.subheader("Model")
models = session.available_models()
labels = list(models)
current = session.model_label(st.session_state["model"])
choice = st.selectbox("Active model", labels, index=labels.index(current)
                      if current in labels else 0, key="home_model_picker",
                      help=f"The shipped model, or any trained on the Train page (saved under "
                           f"{session.MODELS_DIR}/).")
if models[choice] != st.session_state["model"]:
    st.session_state["model"] = models[choice]
    st.rerun()

det = caches.detector()
card = det.card()
c, m = card["config"], card["metadata"]
cols = st.columns(4)
cols[0].metric("Network", c["arch"])
if det.names.named:
    cols[1].metric("Normal classes", det.names.listed(c["digits"]))
elif det.own_images:
    cols[1].metric("Normal images", "your pictures")
else:
    cols[1].metric("Normal digits", det.names.listed(c["digits"]))
cols[2].metric("Training budget", c.get("preset", "?"),
               help="custom: not one of the presets; the settings were given by hand "
                    "(Training, below, says which)." if c.get("preset") == "custom" else None)
cols[3].metric("Trained on", str(m.get("device", "?")).split(" (")[0])
st.markdown(
    f"- **Training**: {training_text(card)}\n"
    f"- **Data**: {m.get('data_source')} — {_count(m.get('n_train'))} training and "
    f"{_count(m.get('n_calibration'))} held-out calibration images"
    + (f"; pictures framed {FRAMING_WORDS[det.framing_]}" if det.own_images
       or det.framing_ != DIGITS else "") + "\n"
    f"- **Trained** {when_text(m.get('trained_at', '?'))} on {m.get('device', '?')} in "
    f"{seconds_text(m.get('train_seconds'))} ({rate_text(m.get('train_images_per_s'))} "
    f"images/s)\n"
    f"- **Scores**: {', '.join(det.scorers_)}; latent size {c['latent_dim']}, seed {c['seed']}\n"
    + (f"- **{pac.replace(': ', '**: ', 1)}\n" if (pac := pac_text(card)) else "")
    + f"- **Folder**: `{Path(st.session_state['model'])}`"
)
quality_card(det.quality_, det.metadata_.get("n_calibration"),
                    None if det.path_ is None else str(det.path_))
with st.expander("Full model card (JSON)"):
    st.json(card, expanded=False)
