"""Logging set-up shared by the CLI and the workflow's script adapters."""

from __future__ import annotations

import logging
import sys


def setup_logging(log_file: str | None = None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=level,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # SpeechBrain (LMAC-TD's building blocks) logs INFO lines on import; keep user-facing output ours
    logging.getLogger("speechbrain").setLevel(logging.WARNING)
