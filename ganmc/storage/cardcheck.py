"""Checks of what a model folder holds: the card's fields and the arrays' types and shapes,
so that a corrupt or hostile folder is refused with one line instead of failing later.

:mod:`ganmc.storage.bundle` calls :func:`check_card` on every card it reads and :func:`check_arrays`
on every ``arrays.npz`` it loads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core.config import SEED_MAX as _SEED_MAX
from ganmc.core.errors import ModelError, one_line

FORMAT = "ganmc-model"
FORMAT_VERSION = 1
CARD = "ganmc.json"
ARRAYS = "arrays.npz"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a model card may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_card(card: dict[str, Any], where: Path | str = CARD) -> None:
    """Check the shape of a parsed model card; :func:`read_card` calls it.

    ``format_version`` a whole number 1 .. ``FORMAT_VERSION``; ``config`` an object that
    :class:`ganmc.core.config.TrainConfig` accepts, with a seed in 0 .. 2**32-1; ``metadata`` and
    ``calibration_summary`` objects (the summary's entries objects, their ``n``, ``seed``,
    ``threshold`` and ``samples_per_s`` numbers); ``scorers`` a list of known scorer names;
    ``scorer``, ``calibration`` known names; ``alpha`` and ``pac_delta`` numbers between 0 and
    1; ``quality`` null or the quality card's shape; ``framing`` (absent: ``digits``) one of
    :data:`ganmc.core.config.FRAMINGS`.

    Raises:
        ModelError: Naming the first field that is wrong, in one line.
    """
    from ganmc.core.config import CALIBRATIONS, SCORERS, TrainConfig
    from ganmc.core.errors import ConfigError

    def bad(field: str, why: str) -> ModelError:
        return ModelError(f"{where}: bad model card: {field} {why}")

    version = card.get("format_version")
    if not _is_int(version) or version < 1:
        raise bad("format_version", f"must be a whole number from 1, not {one_line(version, 40)}")
    if version > FORMAT_VERSION:
        raise ModelError(f"{where}: model format version {version} is not supported by this "
                         f"ganmc (up to {FORMAT_VERSION}); upgrade ganmc")
    config = card.get("config")
    if not isinstance(config, dict):
        raise bad("config", "must be an object")
    try:
        TrainConfig.from_dict(config)
    except ConfigError as exc:
        raise bad("config", f"is out of range ({one_line(exc, 200)})") from None
    except Exception as exc:  # any other shape TrainConfig cannot take (lists, strings, ...)
        raise bad("config", f"is malformed ({type(exc).__name__}: {one_line(exc, 200)})") from None
    if "seed" in config and not (_is_int(config["seed"]) and 0 <= config["seed"] <= _SEED_MAX):
        raise bad("config.seed", f"must be a whole number from 0 to {_SEED_MAX}")
    if config.get("jit_compile") not in (None, True, False):
        raise bad("config.jit_compile", "must be true, false or null")
    if not isinstance(config.get("extra", {}), dict):
        raise bad("config.extra", "must be an object")
    metadata = card.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad("metadata", "must be an object")
    _check_metadata(metadata, bad)
    scorers = card.get("scorers", [])
    if not isinstance(scorers, list) or not all(isinstance(n, str) and n in SCORERS
                                                for n in scorers):
        raise bad("scorers", f"must be a list of {', '.join(SCORERS)}")
    if card.get("scorer", "auto") not in ("auto", *SCORERS):
        raise bad("scorer", f"must be auto or one of {', '.join(SCORERS)}")
    if card.get("calibration", "auto") not in ("auto", *CALIBRATIONS):
        raise bad("calibration", f"must be auto or one of {', '.join(CALIBRATIONS)}")
    alpha = card.get("alpha", 0.05)
    if not _is_number(alpha) or not 0 < alpha < 1:
        raise bad("alpha", f"must be a number between 0 and 1, not {one_line(alpha, 40)}")
    pac_delta = card.get("pac_delta", 0.1)
    if not _is_number(pac_delta) or not 0 < pac_delta < 1:
        raise bad("pac_delta", f"must be a number between 0 and 1, not "
                               f"{one_line(pac_delta, 40)}")
    summary = card.get("calibration_summary", {})
    if not isinstance(summary, dict):
        raise bad("calibration_summary", "must be an object")
    for name, entry in summary.items():
        if not isinstance(entry, dict):
            raise bad(f"calibration_summary.{name}", "must be an object")
        for source, info in entry.items():
            field = f"calibration_summary.{name}.{source}"
            if not isinstance(info, dict):
                raise bad(field, "must be an object")
            for key in ("n", "seed"):
                if key in info and not (_is_int(info[key]) and 0 <= info[key] <= 2**63 - 1):
                    raise bad(f"{field}.{key}", "must be a whole number >= 0")
            if "seed" in info and info["seed"] > _SEED_MAX:
                raise bad(f"{field}.seed", f"must be a whole number from 0 to {_SEED_MAX}")
            for key in ("threshold", "samples_per_s"):
                if info.get(key) is not None and not _is_number(info[key]):
                    raise bad(f"{field}.{key}", "must be a number")
            if (info.get("samples_per_s") or 0) < 0:
                raise bad(f"{field}.samples_per_s", "must be >= 0")
    from ganmc.core.config import FRAMINGS

    if card.get("framing", "digits") not in FRAMINGS:
        raise bad("framing", f"must be one of {', '.join(FRAMINGS)}, not "
                             f"{one_line(card.get('framing'), 40)}")
    _check_quality(card.get("quality"), bad)


def _check_quality(q: Any, bad) -> None:
    """The quality card: null, or rates in 0-1 by level and by set, a known reading, words."""
    from ganmc.thresholds.quality import READINGS

    if q is None:
        return
    if not isinstance(q, dict):
        raise bad("quality", "must be an object or null")

    def rate(v: Any) -> bool:
        return _is_number(v) and 0 <= v <= 1

    far = q.get("false_alarm")
    if not (isinstance(far, dict) and all(rate(v) and _level(k) for k, v in far.items())):
        raise bad("quality.false_alarm", "must map levels (numbers between 0 and 1) to rates "
                                         "between 0 and 1")
    if "detection_alpha" in q and not _level(q["detection_alpha"]):
        raise bad("quality.detection_alpha", "must be a number between 0 and 1")
    sets = q.get("sets")
    if not isinstance(sets, dict):
        raise bad("quality.sets", "must be an object")
    for name, r in sets.items():
        if not (isinstance(r, dict) and rate(r.get("auroc")) and rate(r.get("detection"))
                and _is_int(r.get("n")) and r["n"] >= 0):
            raise bad(f"quality.sets.{one_line(name, 40)}", "must hold n, auroc and detection")
    if q.get("reading") not in READINGS:
        raise bad("quality.reading", f"must be one of {', '.join(READINGS)}")
    for key in ("words", "scorer", "preset"):
        if not isinstance(q.get(key), str):
            raise bad(f"quality.{key}", "must be text")
    if q.get("before_calibration") is not None and not isinstance(q["before_calibration"], str):
        raise bad("quality.before_calibration", "must be text or null")
    if not (_is_int(q.get("n_normal")) and q["n_normal"] >= 0):
        raise bad("quality.n_normal", "must be a whole number >= 0")
    _check_handwriting(q.get("handwriting"), rate, bad)


def _check_handwriting(h: Any, rate, bad) -> None:
    """The card's figures on other people's handwriting
    (:mod:`ganmc.thresholds.handwriting`), if any."""
    if h is None:
        return
    field = "quality.handwriting"
    if not isinstance(h, dict):
        raise bad(field, "must be an object")
    for key in ("digits_flagged", "capitals_caught", "capitals_caught_plain", "auroc",
                "auroc_plain"):
        if not rate(h.get(key)):
            raise bad(f"{field}.{key}", "must be a rate between 0 and 1")
    for key in ("digits_flagged_by_digit", "capitals_caught_by_letter"):
        by = h.get(key)
        if not (isinstance(by, dict) and all(isinstance(k, str) and len(k) <= 2 and rate(v)
                                             for k, v in by.items())):
            raise bad(f"{field}.{key}", "must map digits or letters to rates between 0 and 1")
    for key in ("n_digits", "n_capitals"):
        if not (_is_int(h.get(key)) and h[key] >= 0):
            raise bad(f"{field}.{key}", "must be a whole number >= 0")
    if not isinstance(h.get("source"), str):
        raise bad(f"{field}.source", "must be text")


def _level(v: Any) -> bool:
    """A false-alarm level: a number in (0, 1), or text that is one (a JSON key)."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return False
    return _is_number(v) and 0 < v < 1


#: The training run's counts a card's ``metadata`` may hold, and what each must be.
_COUNTS = ("gan_steps_done", "encoder_steps_done", "gan_epochs_done", "encoder_epochs_done",
           "batch_size", "n_train", "n_calibration")


def _check_metadata(m: dict[str, Any], bad) -> None:
    """The fields of ``metadata`` that the card's words read: whole counts, two-number steps
    and passes, a true/false stop, an object for a calibration on the user's images."""
    for key in _COUNTS:
        if m.get(key) is not None and not (_is_int(m[key]) and m[key] >= 0):
            raise bad(f"metadata.{key}", "must be a whole number >= 0")
    for key, ok in (("steps_planned", lambda v: _is_int(v) and v >= 0),
                    ("passes_done", lambda v: _is_number(v) and v >= 0)):
        v = m.get(key)
        if v is not None and not (isinstance(v, list) and len(v) == 2 and all(map(ok, v))):
            raise bad(f"metadata.{key}", "must be a list of two numbers >= 0 (GAN, encoder)")
    if m.get("stopped_early") not in (None, True, False):
        raise bad("metadata.stopped_early", "must be true, false or null")
    own = m.get("calibration_set")
    if own is not None and not (isinstance(own, dict) and isinstance(own.get("name"), str)):
        raise bad("metadata.calibration_set", "must be an object with a name")
    for key in ("train_seconds", "train_images_per_s", "machine_speed"):
        if m.get(key) is not None and not (_is_number(m[key]) and m[key] >= 0):
            raise bad(f"metadata.{key}", "must be a number >= 0")


def check_arrays(arrays: dict[str, np.ndarray], where: Path | str = ARRAYS) -> None:
    """Check the dtypes and shapes of a model's arrays; :func:`load_bundle` calls it.

    ``holdout/NAME`` and ``montecarlo/NAME``: 1-D, real numbers, finite, not empty.
    ``density/mean`` (F,), ``density/components`` (K, F), ``density/variances`` (K,): real,
    finite, variances > 0, all three or none; the same for ``shape-density/``.
    ``examples/NAME``: uint8 (N, 28, 28). Other names are left alone.

    Raises:
        ModelError: Naming the first array that is wrong, in one line.
    """
    def bad(key: str, why: str) -> ModelError:
        return ModelError(f"{where}: array {key!r} {why}")

    for key, arr in arrays.items():
        kind = key.partition("/")[0]
        if kind == "examples" and not (isinstance(arr, np.ndarray) and arr.dtype == np.uint8
                                       and arr.ndim == 3 and arr.shape[1:] == (28, 28)):
            raise bad(key, f"must hold uint8 images (N, 28, 28), not "
                           f"{getattr(arr, 'dtype', type(arr))} {getattr(arr, 'shape', '')}")
        if kind not in ("holdout", "montecarlo", *_GAUSSIANS, "holdout-digits"):
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
            raise bad(key, f"must hold real numbers, not {getattr(arr, 'dtype', type(arr))}")
        if kind not in _GAUSSIANS and (arr.ndim != 1 or arr.size == 0):
            raise bad(key, f"must be a non-empty 1-D array of scores, not of shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise bad(key, "holds NaN or infinite values")
    for prefix in _GAUSSIANS:
        _check_gaussian(arrays, prefix, bad)


#: The prefixes of a model's Gaussians in its arrays: over D's and the shape network's
#: features.
_GAUSSIANS = ("density", "shape-density")


def _check_gaussian(arrays: dict[str, np.ndarray], prefix: str, bad) -> None:
    parts = {k: arrays.get(f"{prefix}/{k}") for k in ("mean", "components", "variances")}
    present = [k for k, v in parts.items() if v is not None]
    if present and len(present) != 3:
        raise bad(prefix, f"is incomplete (has only {', '.join(present)})")
    if present:
        mean, comps, var = parts["mean"], parts["components"], parts["variances"]
        if mean.ndim != 1 or comps.ndim != 2 or var.ndim != 1:
            raise bad(prefix, f"parts have shapes mean {mean.shape}, components "
                              f"{comps.shape}, variances {var.shape}; expected (F,), (K, F), "
                              f"(K,)")
        if comps.shape != (len(var), len(mean)) or len(var) == 0:
            raise bad(prefix, f"parts do not fit: mean {mean.shape}, components "
                              f"{comps.shape}, variances {var.shape}")
        if not (var > 0).all():
            raise bad(f"{prefix}/variances", "must all be > 0")
