"""``ganmc info``: a model folder's card in words or as JSON, read without TensorFlow."""

from __future__ import annotations

import argparse
import json

from ganmc.storage import bundle
from ganmc.storage.cardtext import card_text


def cmd_info(args: argparse.Namespace) -> int:
    card = bundle.read_card(args.model or bundle.DEFAULT_MODEL)
    print(json.dumps(card, indent=2) if args.json else card_text(card))
    return 0
