"""The types of the CLI's arguments: each checks its value when the command line is read,
before any model loads, and says in argparse's one line what it must be."""

from __future__ import annotations

import argparse
import math

from ganmc.core.config import SEED_MAX
from ganmc.core.errors import GanmcError
from ganmc.thresholds.calibration import check_calibration_name
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.montecarlo import MAX_SAMPLES


def number(text: str, kind: type, ok, rule: str):
    """``text`` as an int (``_`` and ``,`` allowed) or a float that passes ``ok``, else
    argparse's one-line error saying ``rule``."""
    try:
        value = kind(text.replace("_", "").replace(",", "")) if kind is int else kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a {'whole number' if kind is int else 'number'}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be {rule}")
    return value


def positive_int(text: str) -> int:
    return number(text, int, lambda v: v >= 1, "at least 1")


def non_negative_int(text: str) -> int:
    return number(text, int, lambda v: v >= 0, "0 or more")


def seed(text: str) -> int:
    return number(text, int, lambda v: 0 <= v <= SEED_MAX, f"from 0 to {SEED_MAX} (2**32-1)")


def non_negative_float(text: str) -> float:
    return number(text, float, lambda v: math.isfinite(v) and v >= 0, "a finite number, 0 or more")


def samples(text: str) -> int:
    return number(text, int, lambda v: 1 <= v <= MAX_SAMPLES, f"from 1 to {MAX_SAMPLES:,}")


def samples_or_none(text: str) -> int:
    return number(text, int, lambda v: 0 <= v <= MAX_SAMPLES, f"from 0 to {MAX_SAMPLES:,}")


def _usable_level(v: float) -> bool:
    try:
        Level.from_percentile(v)  # the one rule: a level whose false-alarm rate is in (0, 1)
    except GanmcError:
        return False
    return True


def percentile(text: str) -> float:
    return number(text, float, _usable_level,
                   "between 0 and 100, at least about 1e-10 from either end")  # NaN fails too


def calibration_name(text: str) -> str:
    try:
        return check_calibration_name(text)
    except GanmcError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def rate(text: str) -> float:
    """A rate between 0 and 1, ends excluded (a false discovery rate)."""
    return number(text, float, lambda v: 0.0 < v < 1.0, "between 0 and 1, e.g. 0.05")


def confidence(text: str) -> float:
    """A confidence in percent, between 0 and 100, ends excluded."""
    return number(text, float, lambda v: 0.0 < v < 100.0, "between 0 and 100, e.g. 90")
