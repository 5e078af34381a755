"""What every ``workflow/scripts/*.py`` adapter does around the package call.

Logs go to the rule's ``log:`` file (and stderr), torch uses the rule's ``threads``, and a bad
input ends the job with the one-line :class:`~lmac.errors.LmacError` message in the log instead
of a traceback, exit status 1.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

import torch

from .errors import LmacError
from .logs import setup_logging


def run_step(snakemake, step: Callable[[], object]) -> None:
    setup_logging(snakemake.log[0] if snakemake.log else None)
    torch.set_num_threads(max(1, int(snakemake.threads)))
    log = logging.getLogger(f"lmac.rule.{snakemake.rule}")
    t0 = time.monotonic()
    try:
        step()
    except LmacError as err:
        log.error("%s", err)
        sys.exit(1)
    log.info("rule %s finished in %.1f s", snakemake.rule, time.monotonic() - t0)
