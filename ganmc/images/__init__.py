"""Reading images: arrays and files into the model's 28 x 28 frame
(:mod:`~ganmc.images.preprocess`), the user's folders and zips, MNIST and the bundled digits
(:mod:`~ganmc.images.data`), the synthetic anomaly sets, the shape network's outliers and the
augmentations of handwriting.
Imports only :mod:`ganmc.core`.
"""
