"""From scores to verdicts: levels and score distributions, the thresholds and the one rule
that chooses them (:mod:`~ganmc.thresholds.calibration`), the Monte Carlo simulation, the
guarantees' checks, the verdict, a front end's :class:`~ganmc.thresholds.decision.Decision`,
and what a model's verdicts are measured by (metrics, other writers' handwriting, the
quality card). Imports the layers below.
"""
