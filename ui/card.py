"""A model's quality card, as the Overview and the Train page show it: AUROC and detections
on the measured sets, false alarms on the held-out images, and the reading in plain words."""

from __future__ import annotations

import streamlit as st

from ganmc.app import service
from ganmc.core.errors import GanmcError
from ganmc.storage import bundle
from ganmc.thresholds import quality
from ganmc.thresholds.distribution import percent


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
    at = f"{percent(q.get('detection_alpha', 0.05), 'g')}"
    # A plain table with short headings: it wraps to a phone's width instead of scrolling.
    st.table([{"test set": name, "n": f"{r['n']:,}", "AUROC": f"{r['auroc']:.3f}",
               "caught": f"{percent(r['detection'], '.1f')}"} for name, r in q["sets"].items()],
             hide_index=True)
    if q.get("before_calibration"):
        st.caption(quality.before_calibration(q))
    st.caption(f"False alarms of the verdict threshold on {q['n_normal']:,} held-out normal "
               f"images ({q['scorer']} score): " + ", ".join(
                   f"{percent(v, '.1f')} at a nominal {percent(float(a), 'g')}"
                   for a, v in q["false_alarm"].items())
               + f". n: images in the set; caught: its share flagged at {at} false alarms; "
                 "AUROC: the chance that an image of the set scores above a normal one "
                 "(1 = always, 0.5 = a coin toss).")


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
