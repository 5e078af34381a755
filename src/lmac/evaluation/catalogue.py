"""Every metric the evaluation writes, declared once: its column, better direction, range, label and scorer.

A :class:`Family` groups the metrics one scorer computes. The papers' families (faithfulness,
complexity, localisation) are always scored; the families beyond the papers are turned on by an
``evaluation.extras`` value (listenability, roundtrip, robustness). Round trip and the masking
operators score the faithfulness metrics again on other inputs, under the same names plus a
column suffix (``AI_rt``, ``AI_mean``, ``AI_noise``).

Tables, claims, figures, the evaluation's columns and the tests read this module; it imports no
torch, so reading it is cheap (scorers are named ``module:function`` and imported on use).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

INF = math.inf


@dataclass(frozen=True)
class Metric:
    name: str
    #: True: higher is better, False: lower is better, None: no better direction (e.g. the mask size)
    higher_is_better: bool | None
    #: the values one clip can take
    low: float
    high: float
    #: the name tables and figures show, without the arrow (the column name unless said otherwise)
    label: str = ""

    def arrow(self) -> str:
        """``↑``, ``↓`` or nothing."""
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]

    def display(self) -> str:
        """``AI ↑``, ``AD ↓``, ``MM``: the label with the arrow of the better direction."""
        label = self.label or self.name
        return f"{label} {self.arrow()}" if self.arrow() else label


@dataclass(frozen=True)
class Family:
    name: str
    metrics: tuple[Metric, ...]
    #: ``module:function`` computing the family's values per clip; for a family that re-scores the
    #: faithfulness metrics, the function giving the inputs they are scored on
    scorer: str
    #: the ``evaluation.extras`` value that adds the family's columns; None: always scored
    extra: str | None = None
    #: {variant: column suffix}; the family's columns are every metric under every suffix
    variants: tuple[tuple[str, str], ...] = (("", ""),)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def suffixes(self) -> dict[str, str]:
        return dict(self.variants)

    @property
    def columns(self) -> tuple[str, ...]:
        """The per-sample columns, variant by variant, each in the metrics' order."""
        return tuple(m.name + suffix for _, suffix in self.variants for m in self.metrics)

    def score_function(self) -> Callable:
        module, function = self.scorer.split(":")
        return getattr(importlib.import_module(module), function)


def _percent(name: str, higher: bool) -> Metric:
    return Metric(name, higher, 0.0, 100.0)


FAITHFULNESS = Family(
    "faithfulness",
    (
        _percent("AI", True),
        _percent("AD", False),
        _percent("AD_ref", False),
        _percent("AG", True),
        Metric("FF", True, -1.0, 1.0),
        Metric("FidIn", True, 0.0, 1.0),
    ),
    "lmac.evaluation.metrics:faithfulness",
)
COMPLEXITY = Family(
    "complexity",
    (Metric("SPS", True, 0.0, 1.0), Metric("COMP", False, 0.0, INF), Metric("MM", None, 0.0, 1.0)),
    "lmac.evaluation.metrics:complexity_metrics",
)
LOCALISATION = Family(
    "localisation",
    tuple(Metric(name, True, 0.0, 1.0) for name in ("RMA", "RRA", "PG", "IoU")),
    "lmac.evaluation.localisation:localisation_metrics",
)
LISTENABILITY = Family(
    "listenability",
    (
        Metric("SI_SDR", True, -INF, INF),
        Metric("LSD", False, 0.0, INF),
        Metric("interferer_kept", False, 0.0, INF),
        Metric("target_kept", None, 0.0, INF),
        Metric("silent", None, 0.0, 1.0, label="silent share"),
    ),
    "lmac.evaluation.listenability:listenability",
    extra="listenability",
)
ROUND_TRIP = Family(
    "round trip",
    FAITHFULNESS.metrics,
    "lmac.evaluation.roundtrip:heard_explanation",
    extra="roundtrip",
    variants=(("heard", "_rt"),),
)
#: the fill operators; the zero operator (removed bins set to 0) is the faithfulness family itself
OPERATORS = Family(
    "masking operators",
    FAITHFULNESS.metrics,
    "lmac.evaluation.operators:masked_pair",
    extra="robustness",
    variants=(("mean", "_mean"), ("noise", "_noise")),
)
FAMILIES = (FAITHFULNESS, COMPLEXITY, LOCALISATION, LISTENABILITY, ROUND_TRIP, OPERATORS)

#: the papers' per-clip metrics (faithfulness and complexity), every evaluation's first columns
PAPER_METRICS = FAITHFULNESS.columns + COMPLEXITY.columns
#: the metrics of the main table (``metrics.csv``): the papers' and the localisation metrics
TABLE_METRICS = PAPER_METRICS + LOCALISATION.columns
#: the evaluation.extras values, in the order their columns follow the main ones
EXTRAS = tuple(f.extra for f in FAMILIES if f.extra)

_METRICS = {m.name: m for f in FAMILIES for m in f.metrics}
_COLUMNS = {m.name + suffix: m for f in FAMILIES for _, suffix in f.variants for m in f.metrics}
#: {metric: higher is better (True/False) or None} for every metric under its own name
DIRECTION = {name: m.higher_is_better for name, m in _METRICS.items()}


def family(name: str) -> Family:
    """The family called ``name`` (or turned on by the extra ``name``)."""
    for f in FAMILIES:
        if name in (f.name, f.extra):
            return f
    raise KeyError(name)


def metric(column: str) -> Metric | None:
    """The metric behind a per-sample column (``AI``, ``AI_rt``, ``AI_noise`` → AI), None if unknown."""
    return _COLUMNS.get(column)


def direction(column: str) -> bool | None:
    """Whether higher is better for ``column`` (True/False), None without a direction or for an unknown column."""
    found = metric(column)
    return None if found is None else found.higher_is_better


def display(column: str) -> str:
    """The label with its arrow (``AI ↑``); an unknown column keeps its bare name."""
    found = metric(column)
    if found is None:
        return column
    return found.display() if column == found.name else f"{column} {found.arrow()}".rstrip()


def extra_columns(extras) -> tuple[str, ...]:
    """The per-sample columns the ``extras`` add, in the fixed order of :data:`FAMILIES`."""
    return tuple(c for f in FAMILIES if f.extra in extras for c in f.columns)
