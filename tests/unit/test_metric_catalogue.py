"""The metric catalogue: each family's scorer gives exactly its columns, within the declared ranges, and
every reader (evaluation columns, tables, claims, figures) takes names and directions from it."""

from __future__ import annotations

import math

import pytest
import torch

from lmac.evaluation import catalogue
from lmac.evaluation.catalogue import (
    COMPLEXITY,
    FAITHFULNESS,
    FAMILIES,
    LISTENABILITY,
    LOCALISATION,
    OPERATORS,
    PAPER_METRICS,
    ROUND_TRIP,
    TABLE_METRICS,
)
from lmac.frontend import FrontEnd


def _in_range(scores: dict[str, torch.Tensor], family: catalogue.Family) -> None:
    for metric in family.metrics:
        values = scores[metric.name].double()
        values = values[~values.isnan()]
        assert len(values) and (values >= metric.low).all() and (values <= metric.high).all(), metric.name


def test_every_column_is_declared_once():
    columns = [c for f in FAMILIES for c in f.columns]
    assert len(columns) == len(set(columns))
    assert PAPER_METRICS == ("AI", "AD", "AD_ref", "AG", "FF", "FidIn", "SPS", "COMP", "MM")
    assert TABLE_METRICS == (*PAPER_METRICS, "RMA", "RRA", "PG", "IoU")
    assert all(m.low < m.high for f in FAMILIES for m in f.metrics)


def test_faithfulness_and_complexity_scorers_give_their_columns_within_range():
    torch.manual_seed(0)
    logits = [torch.randn(16, 5) * 3 for _ in range(3)]
    scores = FAITHFULNESS.score_function()(*logits)
    assert tuple(scores) == FAITHFULNESS.names
    _in_range(scores, FAITHFULNESS)
    mask = torch.rand(16, 8, 6)
    mask[0] = 0  # an all-zero map has no SPS or COMP: NaN, never out of range
    scores = COMPLEXITY.score_function()(mask)
    assert tuple(scores) == COMPLEXITY.names
    assert math.isnan(scores["SPS"][0]) and math.isnan(scores["COMP"][0])
    assert float(scores["COMP"][1:].max()) <= math.log(8 * 6)  # the range's open end is ln d for a d-bin map
    _in_range(scores, COMPLEXITY)


def test_localisation_and_listenability_scorers_give_their_columns_within_range():
    torch.manual_seed(0)
    mask, gt = torch.rand(4, 10, 8), torch.rand(4, 10, 8) > 0.7
    scores = LOCALISATION.score_function()(mask, gt)
    assert tuple(scores) == LOCALISATION.names
    _in_range(scores, LOCALISATION)
    target, interferer = torch.randn(3, 16000), 0.3 * torch.randn(3, 16000)
    explanation = 0.7 * target + 0.1 * interferer
    scores = LISTENABILITY.score_function()(FrontEnd(), explanation, target, interferer)
    assert tuple(scores) == LISTENABILITY.names
    _in_range(scores, LISTENABILITY)


def test_round_trip_and_operators_rescore_faithfulness_under_the_evaluation_suffixes():
    from lmac.evaluation.operators import FILL_OPERATORS, masked_pair
    from lmac.evaluation.roundtrip import SUFFIX, heard_explanation

    assert ROUND_TRIP.metrics == OPERATORS.metrics == FAITHFULNESS.metrics
    assert ROUND_TRIP.columns == tuple(m + SUFFIX for m in FAITHFULNESS.names) and SUFFIX == "_rt"
    assert OPERATORS.columns == tuple(f"{m}_{op}" for op in FILL_OPERATORS for m in FAITHFULNESS.names)
    assert ROUND_TRIP.score_function() is heard_explanation and OPERATORS.score_function() is masked_pair


def test_extras_columns_follow_the_families_order():
    from lmac.evaluation.extras import EXTRAS, extra_columns

    assert EXTRAS == ("listenability", "roundtrip", "robustness")
    assert extra_columns(["robustness", "listenability"]) == [*LISTENABILITY.columns, *OPERATORS.columns]
    assert extra_columns(EXTRAS) == [*LISTENABILITY.columns, *ROUND_TRIP.columns, *OPERATORS.columns]
    assert catalogue.family("robustness") is OPERATORS and catalogue.family("round trip") is ROUND_TRIP
    with pytest.raises(KeyError):
        catalogue.family("mos")


def test_directions_and_labels_cover_suffixed_columns():
    assert [catalogue.display(c) for c in ("AI", "AD_ref", "MM", "silent", "SI_SDR", "AD_rt", "FF_noise")] == [
        "AI ↑",
        "AD_ref ↓",
        "MM",
        "silent share",
        "SI_SDR ↑",
        "AD_rt ↓",
        "FF_noise ↑",
    ]
    assert catalogue.display("frame_F1") == "frame_F1" and catalogue.direction("frame_F1") is None
    assert catalogue.direction("AI_mean") is True and catalogue.direction("LSD") is False
    assert catalogue.direction("target_kept") is None


def test_readers_take_their_metrics_from_the_catalogue():
    from lmac.evaluation.listenability import LISTENABILITY_HIGHER_IS_BETTER
    from lmac.evaluation.metrics import HIGHER_IS_BETTER
    from lmac.reporting.claims import DIRECTION
    from lmac.reporting.metric_bars import KINDS
    from lmac.reporting.tables import ALL_METRICS

    assert DIRECTION == {
        **HIGHER_IS_BETTER,
        **dict.fromkeys(LOCALISATION.names, True),
        **LISTENABILITY_HIGHER_IS_BETTER,
    }
    assert ALL_METRICS == TABLE_METRICS
    assert KINDS == {"faithfulness": PAPER_METRICS, "localisation": LOCALISATION.columns}
