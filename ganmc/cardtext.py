"""A model card in plain words, without TensorFlow: ``ganmc info``, the Overview page and the
report read a card through these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ganmc.presets import TASKS


def training_text(card: dict[str, Any]) -> str:
    """What was trained, as the card says: "standard preset, batches of 64: 5,000 GAN steps
    (472 passes), no encoder", "… 3,000 of 5,000 GAN steps … (stopped early)", or for a card
    from before the presets "180 GAN + 180 encoder epochs (set by hand, before the training
    presets)"."""
    c, m = card.get("config") or {}, card.get("metadata") or {}
    if not (isinstance(c, dict) and isinstance(m, dict)):
        return "? steps"
    stopped = " (stopped early)" if m.get("stopped_early") else ""
    if "gan_steps_done" not in m:  # trained before the step budgets
        if not stopped:
            return (f"{c.get('epochs')} GAN + {c.get('encoder_epochs')} encoder epochs (set "
                    f"by hand, before the training presets)")
        return (f"{m.get('gan_epochs_done', '?')} of {c.get('epochs')} + "
                f"{m.get('encoder_epochs_done', '?')} of {c.get('encoder_epochs')} epochs"
                f"{stopped}")
    passes = m.get("passes_done") or ["?", "?"]
    planned = m.get("steps_planned") or ["?", "?"]

    def part(i: int, what: str) -> str:
        done = m.get(f"{what.lower()}_steps_done")
        head = f"{_count(done)} of {_count(planned[i])}" if stopped else _count(done)
        return f"{head} {what} steps ({passes[i]} passes)"

    text = part(0, "GAN")
    text += " + " + part(1, "encoder") if c.get("encoder_epochs") or c.get("encoder_steps") \
        else ", no encoder"
    text += "".join(f", {t}" for t in tasks_text(c))
    return (f"{c.get('preset')} preset, batches of {m.get('batch_size', '?')}: {text}"
            f"{stopped}")


def tasks_text(settings: dict[str, Any]) -> list[str]:
    """D's extra tasks that are on in these settings (a card's config, a job's parameters), in
    words with their weights: ``["rotation task 1"]``."""
    out = []
    for name, task in TASKS.items():
        weight = settings.get(name)
        if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight > 0:
            out.append(f"{task.words} {weight:g}")
    return out


def _count(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def when_text(iso: Any) -> str:
    """A card's ISO timestamp as people write it: "2026-11-30 01:23 UTC" (as given if odd)."""
    try:
        t = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if t.tzinfo is not None else "")


def seconds_text(v: Any) -> str:
    """A duration in seconds as people read it: "922 s", "14.2 s" ("?" if unknown)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "?"
    return f"{v:,.0f} s" if v >= 100 else f"{v:.1f} s"


def rate_text(v: Any) -> str:
    """A speed as a whole number with thousands separators: "2,435" ("?" if unknown)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "?"
    return f"{v:,.0f}"


def card_text(card: dict) -> str:
    """A model card in plain lines: what ``ganmc info`` prints."""
    from ganmc.config import FRAMING_WORDS
    from ganmc.naming import Names
    from ganmc.quality import card_lines

    c, m = card.get("config", {}), card.get("metadata", {})
    names = Names.of_card(card)
    normal = (f"normal classes {names.listed(c.get('digits'))}" if names.named else
              "normal: one class of your pictures" if m.get("own_images") else
              f"normal digits {c.get('digits')}")
    framing = card.get("framing") or "digits"
    lines = [f"arch {c.get('arch')}, latent {c.get('latent_dim')}, {normal}",
             f"trained: {training_text(card)}",
             f"data {m.get('data_source')}: {m.get('n_train')} train, "
             f"{m.get('n_calibration')} calibration images"
             + (f"; pictures framed {FRAMING_WORDS.get(framing, framing)}"
                if m.get("own_images") or framing != "digits" else ""),
             f"trained {when_text(m.get('trained_at'))} on {m.get('device')} in "
             f"{seconds_text(m.get('train_seconds'))} ({rate_text(m.get('train_images_per_s'))} "
             f"images/s)",
             f"scorers {', '.join(card.get('scorers', []))}; verdicts use scorer "
             f"{card.get('scorer')}, calibration {card.get('calibration')}, alpha "
             f"{card.get('alpha')}", *card_lines(card.get("quality"), m.get("n_calibration"))]
    return "\n".join(lines)
