"""The detector: PyOD's ``BaseDetector`` shape (:mod:`~ganmc.model.base`) and
:class:`~ganmc.model.detector.Detector`, which fits, calibrates, assesses, simulates, saves
and loads. Imports the layers below.
"""
