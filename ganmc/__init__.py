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
    "Detector": "ganmc.model.detector",
    "load_model": "ganmc.model.detector",
    "Choice": "ganmc.thresholds.decision",
    "Decision": "ganmc.thresholds.decision",
    "Level": "ganmc.thresholds.distribution",
    "TrainConfig": "ganmc.core.config",
    "load_mnist": "ganmc.images.data",
    "MnistSplits": "ganmc.images.data",
    "to_mnist": "ganmc.images.preprocess",
    "load_image": "ganmc.images.preprocess",
    "frame": "ganmc.images.preprocess",
    "read_folder": "ganmc.images.folders",
    "read_zip": "ganmc.images.folders",
    "simulate": "ganmc.thresholds.montecarlo",
    "MonteCarloResult": "ganmc.thresholds.montecarlo",
    "ScoreDistribution": "ganmc.thresholds.distribution",
    "GanmcError": "ganmc.core.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganmc' has no attribute {name!r}")
