"""How long a training run should take on this machine, before it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganmc.storage import bundle

#: Seconds a run of one digit takes besides its steps (data, the Gaussian, calibration, the
#: simulations, the quality card) in :func:`time_estimate`: 23-26 s on the 2-core CPU
#: (``python -m benchmarks.presets``: the mean wall time less the card's training time, in
#: docs/benchmarks-presets-standard.json; a unit test checks the two agree), for any preset;
#: and the seconds each further digit adds (its training and held-out images are scored and
#: calibrated too, through the shape network's views): ``python -m benchmarks.estimates``,
#: from its quick runs of one digit and of ten, in docs/benchmarks-estimates.json (a unit test
#: checks the two agree).
ESTIMATE_AFTER_TRAINING_S = 25.0
ESTIMATE_AFTER_TRAINING_S_PER_DIGIT = 9.0
#: The fewest GAN steps a saved model must have run for its training speed to be the basis of
#: an estimate (a run stopped after a few steps timed mostly the compilation).
ESTIMATE_MIN_STEPS = 100


def time_estimate(settings: dict[str, Any], models_dir: Path | str | None = None
                  ) -> tuple[float, str]:
    """Seconds a training run with these :class:`Detector` settings should take on this
    machine before it starts, and what the figure rests on: the training speed of the latest
    model in ``models_dir`` trained the same way (network, batch size, device, which of D's
    extra tasks), else the presets' measured times on a 2-core CPU, scaled for the network and
    the extra tasks (``config.TASKS``). Once training runs, its progress reports give the ETA
    from the steps so far.
    """
    from ganmc.core.config import TrainConfig
    from ganmc.core.presets import PRESETS, RELATIVE_TRAIN_SPEED, TASKS
    from ganmc.nets.devices import describe_device

    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig(**{k: v for k, v in settings.items() if k in fields})
    n = 700 * len(config.digits)  # about the training images of these digits in the bundle
    steps = config.gan_steps(n) + (config.encoder_steps_for(n) if config.has_encoder else 0)
    preset = PRESETS.get(config.preset)
    overhead = (ESTIMATE_AFTER_TRAINING_S
                + ESTIMATE_AFTER_TRAINING_S_PER_DIGIT * (len(config.digits) - 1))
    rate, basis = None, ""
    if models_dir is not None:
        device = describe_device()
        for card in sorted(_cards(Path(models_dir)), key=lambda c: str(
                c.get("metadata", {}).get("trained_at", "")), reverse=True):
            m, c = card.get("metadata", {}), card.get("config", {})
            if (c.get("arch") == config.arch and m.get("batch_size") == config.batch_size
                    and m.get("device") == device and m.get("train_images_per_s")
                    and (m.get("gan_steps_done") or 0) >= ESTIMATE_MIN_STEPS
                    and all(bool(c.get(t)) == bool(getattr(config, t))
                            for t in TASKS)):
                rate = float(m["train_images_per_s"]) / config.batch_size
                basis = f"from the training speed of {card['_name']} on this machine"
                break
    if rate is None and preset is not None:
        base = preset.steps + preset.encoder_steps
        # the presets' minutes are for one digit; no extra task
        rate = base / max(preset.minutes_2core * 60 - ESTIMATE_AFTER_TRAINING_S, 1.0)
        rate *= RELATIVE_TRAIN_SPEED[config.arch] / RELATIVE_TRAIN_SPEED[preset.arch]
        rate /= config.slowdown(config.gan_steps(n))
        basis = "from the presets' times on a 2-core CPU (a GPU is faster)"
    if rate is None:
        return float("nan"), "no estimate yet"
    return steps / rate + overhead, basis


def _cards(models_dir: Path) -> list[dict[str, Any]]:
    cards = []
    for folder in sorted(models_dir.glob("*"))[:200]:
        try:
            cards.append({**bundle.read_card(folder), "_name": folder.name})
        except Exception:  # a folder that is no model: not a basis for an estimate
            continue
    return cards
