"""A model card in plain words, without TensorFlow: ``ganmc info``, the Overview page and the
report read a card through these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ganmc.core.naming import Names
from ganmc.core.presets import TASKS
from ganmc.thresholds.distribution import percent


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
    passes = _pair(m.get("passes_done"))
    planned = _pair(m.get("steps_planned"))

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


def _pair(v: Any) -> list:
    """A card's (GAN, encoder) pair, or two question marks."""
    return v if isinstance(v, list) and len(v) == 2 else ["?", "?"]


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


def pac_text(card: dict[str, Any]) -> str | None:
    """The card's PAC (training-conditional) threshold line for the verdicts' score: its rank
    against the conformal one from the held-out images' number (or that they are too few),
    its value where the card has it, and per digit how many digits have images enough for
    their own; None for a card without held-out images."""
    from ganmc.core.config import AUTO, DEFAULT_PAC_DELTA
    from ganmc.core.errors import GanmcError
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.ranks import pac_min_images, pac_words

    try:
        scorers = card.get("scorers") or []
        name = scorers[0] if card.get("scorer", AUTO) == AUTO and scorers else card.get("scorer")
        entry = (card.get("calibration_summary") or {}).get(name) or {}
        n = (entry.get("holdout") or {}).get("n")
        if not isinstance(n, int) or n < 1:
            return None
        level = Level(card.get("alpha", Level().alpha))
        delta = card.get("pac_delta", DEFAULT_PAC_DELTA)
        text = pac_words(n, level, delta)
        value = (entry.get("pac") or {}).get("threshold")
        if isinstance(value, (int, float)):
            text = text[:-1] + f": {name} threshold {value:.4g}."
        counts = (entry.get("per-digit") or {}).get("counts") or {}
        if counts and n >= pac_min_images(level, delta):
            need = pac_min_images(level, delta)
            names = Names.of_card(card)
            few = [names.name(d) for d in sorted(counts, key=int) if counts[d] < need]
            text += (f" Per {names.noun} ({min(counts.values()):,} to {max(counts.values()):,} "
                     f"images each): " + (f"every {names.noun} has {need} or more, enough for "
                                          f"its own." if not few else
                                          f"{names.plural} {', '.join(few)} have fewer than "
                                          f"{need} and use the pooled one."))
        return text
    except (GanmcError, TypeError, ValueError, AttributeError):
        return None


def card_text(card: dict) -> str:
    """A model card in plain lines: what ``ganmc info`` prints."""
    from ganmc.core.config import FRAMING_WORDS
    from ganmc.core.naming import Names
    from ganmc.thresholds.quality import card_lines

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
             f"{card.get('alpha')}", *([pac] if (pac := pac_text(card)) else []),
             *card_lines(card.get("quality"), m.get("n_calibration")), *catches_text(card)]
    return "\n".join(lines)


def catches_text(card: dict[str, Any]) -> list[str]:
    """What a model catches and what it still misses, in plain lines with the card's figures
    (the Detect page's explanation, ``ganmc info``)."""
    from ganmc.thresholds.handwriting import DIGIT_LIKE

    c = card.get("config") if isinstance(card.get("config"), dict) else {}
    m = card.get("metadata") if isinstance(card.get("metadata"), dict) else {}
    if c.get("classes") or m.get("own_images"):
        return []  # the user's own pictures: the card's anomaly folder says what it catches
    q = card.get("quality") if isinstance(card.get("quality"), dict) else {}
    sets = q.get("sets") if isinstance(q.get("sets"), dict) else {}
    h = q.get("handwriting") if isinstance(q.get("handwriting"), dict) else None

    def auroc(name: str) -> str:
        r = sets.get(name)
        return f" (AUROC {r['auroc']:.3f})" if isinstance(r, dict) and "auroc" in r else ""

    if not c.get("shape_weight"):
        return ["This model has no shape network: it learnt the training digits' writing "
                "style as much as their shapes, so other people's digits are flagged more "
                "often than its threshold says and many letters pass. Models trained now "
                "(several digits) have one."]
    lines = ["Catches: letters and symbols not written like digits" + auroc("printed letters")
             + "; scribbles" + auroc("scribbles") + "; noise, inverted pictures, clothing"
             + auroc("Fashion-MNIST") + "; photographs and crops of them, by their tones "
             "(grey away from any pen stroke, which no handwritten digit has) or by their "
             "shape."]
    if h is not None:
        flagged = percent(h["digits_flagged"], ".1f")
        plain = percent(h["capitals_caught_plain"], ".0f")
        caught = percent(h["capitals_caught"], ".0f")
        lines.append(f"Holds for other people's handwriting: {flagged} of their digits flagged at "
                     f"a 5 % threshold; {plain} of their capital letters caught (those not "
                     f"written like digits), {caught} of all 26 (measured on {h['source']}).")
    misses = ", ".join(DIGIT_LIKE[:-1]) + " and " + DIGIT_LIKE[-1]
    weak = ""
    if h is not None:
        worst = sorted(h["capitals_caught_by_letter"].items(), key=lambda kv: kv[1])[:6]
        weak = " Least caught: " + ", ".join(f"{k} {percent(v, '.0f')}" for k, v in worst) + "."
    lines.append(f"Still misses: letters written like digits ({misses} pass as 0, 1, 1, 5 "
                 f"and 2 when written that way), and a letter drawn like a digit." + weak)
    if h is None:
        lines.append("Not measured on other people's handwriting: ganmc assess --handwriting "
                     "FILE measures it.")
    return lines
