"""What every ``workflow/scripts/*.py`` adapter does around the package call.

Logs go to the rule's ``log:`` file (and stderr), torch uses the rule's ``threads``, and a bad
input ends the job with the one-line :class:`~lmac.errors.LmacError` message in the log instead
of a traceback, exit status 1. A finished job leaves its provenance record (code revision, packages,
device, params) beside its first output, or beside each output the script names (a grouped
evaluation job: every method's results) (:mod:`lmac.provenance`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence

import torch

from .errors import LmacError
from .logs import setup_logging
from .provenance import job_record_path, write_job_record
from .smoke import mark as smoke_mark


def run_step(
    snakemake, step: Callable[[], object], provenance: bool = True, record_beside: Sequence[str] | None = None
) -> None:
    """Run ``step`` as the job; its record goes beside each of ``record_beside`` (default: the first output)."""
    setup_logging(snakemake.log[0] if snakemake.log else None)
    torch.set_num_threads(max(1, int(snakemake.threads)))
    smoke_mark.set_from_config(getattr(snakemake, "config", None))
    log = logging.getLogger(f"lmac.rule.{snakemake.rule}")
    beside = record_beside if record_beside is not None else snakemake.output[:1]
    records = [job_record_path(out) for out in beside] if provenance else []
    for record in records:  # a failed rerun must not leave the previous run's record beside new outputs
        record.unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        step()
    except LmacError as err:
        log.error("%s", err)
        sys.exit(1)
    seconds = time.monotonic() - t0
    for record in records:
        try:
            write_job_record(snakemake, seconds, record)
        except Exception as err:  # noqa: BLE001 -- a missing record must not cost the job its outputs
            log.warning("provenance record %s not written: %s", record, err)
    log.info("rule %s finished in %.1f s", snakemake.rule, seconds)
