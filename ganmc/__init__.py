"""ganmc: GAN-based image anomaly detection with Monte Carlo and conformal thresholds.

The package does the whole job without any UI, in one direction:
data -> train -> score -> Monte Carlo / calibrate -> verdict -> report.

The public names are imported lazily, so ``import ganmc`` (and ``ganmc --help``) stay fast and
TensorFlow is only loaded when a model is actually needed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# TensorFlow's C++ log lines (start-up chatter, grappler's "remapper failed" during training)
# are noise for users of a CLI or a dashboard: what fails reaches Python as an exception.
# GANMC_TF_VERBOSE=1 shows them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if os.environ.get("GANMC_TF_VERBOSE") else "3")

_LAZY = {
    "Detector": "ganmc.detector",
    "load_model": "ganmc.detector",
    "Choice": "ganmc.decision",
    "Decision": "ganmc.decision",
    "Level": "ganmc.distribution",
    "TrainConfig": "ganmc.config",
    "load_mnist": "ganmc.data",
    "MnistSplits": "ganmc.data",
    "to_mnist": "ganmc.preprocess",
    "load_image": "ganmc.preprocess",
    "frame": "ganmc.preprocess",
    "read_folder": "ganmc.folders",
    "read_zip": "ganmc.folders",
    "simulate": "ganmc.montecarlo",
    "MonteCarloResult": "ganmc.montecarlo",
    "ScoreDistribution": "ganmc.distribution",
    "GanmcError": "ganmc.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganmc' has no attribute {name!r}")
