"""``python -m ganmc.cli``: the ``ganmc`` command (:func:`ganmc.cli.main`)."""

import sys

from ganmc.cli import main

sys.exit(main())
