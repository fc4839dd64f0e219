"""Model folders on disk: the card and its checks, the folder's files and what a network file
may cost, saving and loading a detector's state (:mod:`~ganmc.storage.modelfile`), and the
card in words. Imports the layers below.
"""
