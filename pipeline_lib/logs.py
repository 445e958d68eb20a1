"""Logging set-up, called once in each step's ``main``."""

from __future__ import annotations

import logging
import os


def setup_logging(level: int = logging.INFO) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
