"""The mark every table and figure of a smoke run carries, so none can be taken for a result.

A workflow job turns it on from its config (:func:`lmac.workflow_step.run_step` calls
:func:`set_from_config`); the table model and :func:`lmac.reporting.plotting.save_figure` read it.
It is per process: each Snakemake job is one.
"""

from __future__ import annotations

from collections.abc import Mapping

from .mode import enabled

TEXT = "SMOKE RUN: proves the plumbing and the shapes; these numbers are not results"
SHORT = "SMOKE RUN"

_active = False


def set_from_config(config: Mapping | None) -> None:
    global _active
    _active = enabled(config or {})


def active() -> bool:
    return _active


def watermark(fig) -> None:
    """Stamp a matplotlib figure across its face and along its top edge."""
    fig.text(0.5, 0.5, SHORT, ha="center", va="center", rotation=25, fontsize=48, color="red", alpha=0.25)
    fig.text(0.5, 0.995, TEXT, ha="center", va="top", fontsize=8, color="red")
