"""The anomaly scores of a batch: their TensorFlow graphs (:mod:`~ganmc.scores.scoring`), the
compiled functions a detector calls (:mod:`~ganmc.scores.inference`) and the combined score's
ranks (:mod:`~ganmc.scores.combined`). The registry of scores is :mod:`ganmc.core.scorers`.
Imports the layers below (core, images, nets).
"""
