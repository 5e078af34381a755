"""evaluation.distinct_interferers: a clip's contaminated versions mix in distinct pool clips (the reference)."""

import pytest
import torch

from lmac.errors import LmacError
from lmac.evaluation.conditions import make_condition

POOL = torch.eye(3, 50)  # three pool clips, told apart by where their one sample is
IDS = [f"c{i}" for i in range(40)]


def _interferers(distinct: bool, versions: int = 2) -> torch.Tensor:
    cond = make_condition(
        "mixture", seed=3, versions=versions, pool=POOL, pool_ids=["p0", "p1", "p2"], distinct=distinct
    )
    wav = torch.ones(len(IDS), 50)
    # which pool clip each (version, item) mixed in: the index of the interferer's peak
    return torch.stack([cond.apply(wav, IDS, v).interferer.argmax(-1) for v in range(versions)])


def test_independent_draws_let_two_versions_share_an_interferer():
    picks = _interferers(distinct=False)
    assert (picks[0] == picks[1]).any()  # 40 clips, 3 candidates: some coincide


def test_distinct_draws_give_every_version_its_own_interferer():
    picks = _interferers(distinct=True, versions=3)
    for i in range(len(IDS)):
        assert sorted(picks[:, i].tolist()) == [0, 1, 2]
    assert torch.equal(picks, _interferers(distinct=True, versions=3))  # seeded per clip
    with pytest.raises(LmacError, match="4 distinct interferers"):
        _interferers(distinct=True, versions=4)
