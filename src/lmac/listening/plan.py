"""What the listening rules use from the checked config: the page's conditions, the test's methods and conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import LmacError
from ..explainers.registry import is_learned


@dataclass(frozen=True)
class ListeningPlan:
    page_clips: int
    test_methods: list[str]
    test_conditions: list[str]
    test_clips: int


def listening_plan(config: Mapping, methods: Sequence[str]) -> ListeningPlan:
    """The plan of ``config`` (validated) whose evaluated methods are ``methods`` (LMAC-TD expanded per α)."""
    listening = config.get("listening") or {}
    test = listening.get("test") or {}
    evaluated = list(config["evaluation"]["conditions"])
    n_examples = config["report"]["n_examples"]
    clips = test.get("clips") or n_examples
    for key, value in (("listening.page_clips", listening.get("page_clips", 1)), ("listening.test.clips", clips)):
        if value > n_examples:
            raise LmacError(f"config key '{key}': {value} clips, but evaluations keep report.n_examples = {n_examples}")
    conditions = test.get("conditions") or [c for c in evaluated if c != "clean"] or evaluated
    unknown = [c for c in conditions if c not in evaluated]
    if unknown:
        raise LmacError(f"config key 'listening.test.conditions': {unknown[0]} is not in evaluation.conditions")
    rated = test.get("methods") or [m for m in methods if is_learned(m)] or list(methods)
    unknown = [m for m in rated if m not in methods]
    if unknown:
        raise LmacError(
            f"config key 'listening.test.methods': {unknown[0]} is not evaluated (evaluated: {', '.join(methods)})"
        )
    return ListeningPlan(listening.get("page_clips", 1), list(rated), list(conditions), clips)
