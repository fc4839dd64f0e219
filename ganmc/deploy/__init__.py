"""A detector taken elsewhere: ``ganmc export`` (:mod:`~ganmc.deploy.export`) and the exported
folder's own runtime (:mod:`~ganmc.deploy.predict`, which imports nothing from ganmc). Imports the
layers below.
"""
