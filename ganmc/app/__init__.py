"""The use cases that the CLI and the dashboard both call (:mod:`~ganmc.app.service`), and what
they are made of: changing saved models, time estimates, evaluation, background jobs.
Imports the layers below; only :mod:`ganmc.cli` and the dashboard import it.
"""
