"""The networks and their training: G, D, E and the shape network
(:mod:`~ganmc.nets.networks`), the feature Gaussians (:mod:`~ganmc.nets.density`), the GAN's
``train_step`` (:mod:`~ganmc.nets.gan`), rounds, checkpoints and devices
(:mod:`~ganmc.nets.train`) and progress (:mod:`~ganmc.nets.tracker`). Imports
:mod:`ganmc.core` and :mod:`ganmc.images`.
"""
