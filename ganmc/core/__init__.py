"""The foundations every layer reads: errors, bounds on memory and files, atomic writes and
folder locks, the choice lists and defaults (:mod:`~ganmc.core.config`), the training
presets, the score registry (pure Python, no TensorFlow), what labels are called, and the
process's TensorFlow settings. Imports nothing else of ganmc.
"""
