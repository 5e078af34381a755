"""Condition cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import pytest
import torch

from lmac.errors import LmacError
from lmac.evaluation.conditions import Condition, item_generator, item_seed, make_condition

L = 4000


class Fixed:
    """A source that always returns the same signal (cropped or padded by the condition)."""

    def __init__(self, signal: torch.Tensor):
        self.signal = signal

    def sample(self, length, generator):
        return self.signal


def clip(seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(L, generator=torch.Generator().manual_seed(seed)) * scale


def test_the_item_generator_depends_on_the_condition():
    a = item_generator(0, "mixture", 0, "x").initial_seed()
    assert a == item_seed(0, "mixture", 0, "x") != item_generator(0, "speech", 0, "x").initial_seed()


def test_condition_defaults_are_the_reference_peak_and_no_class_constraint():
    pool, ids = torch.randn(3, L, generator=torch.Generator().manual_seed(0)), ["a", "b", "c"]
    cond = Condition("mixture", seed=0, versions=1, pool=pool, pool_ids=ids)
    assert cond.peak == "signed" and cond.different_class is False
    cond.apply(torch.randn(1, L), ["a"], 0)  # no labels needed
    # the default peak divides by the signed maximum, so the largest sample is exactly 1 (less EPS)
    signed = Condition("white_noise", seed=0, versions=1).apply(-clip(1)[None] + 3.0, ["a"], 0)
    assert signed.wav.max().item() == pytest.approx(1.0, abs=1e-6)


def test_describe_records_every_setting():
    pool, ids = torch.zeros(2, L), ["a", "b"]
    cond = make_condition("mixture", seed=7, pool=pool, pool_ids=ids, pool_labels=[0, 1], different_class=True)
    assert cond.describe() == {
        "name": "mixture",
        "versions": 2,
        "seed": 7,
        "snr_db": pytest.approx(12.0412, abs=1e-4),
        "peak": "signed",
        "target_gain": 0.8,
        "interferer_gain": 0.2,
        "pool_size": 2,
        "different_class": True,
        "distinct": False,
    }
    noise = Fixed(torch.ones(L))
    assert make_condition("in_domain", seed=1, noise_source=noise).describe()["source"] == repr(noise)


def test_apply_names_the_shape_and_the_version_range():
    cond = make_condition("white_noise", seed=0)
    with pytest.raises(ValueError, match=re.escape("wav must be [B, L] with one id per row; got (4000,) and 1 ids")):
        cond.apply(torch.zeros(L), ["a"], 0)
    with pytest.raises(ValueError, match=re.escape("got (2, 4000) and 1 ids")):
        cond.apply(torch.zeros(2, L), ["a"], 0)
    with pytest.raises(ValueError, match=re.escape("condition white_noise: version 2 outside 0..1")):
        cond.apply(torch.zeros(1, L), ["a"], 2)
    pool, ids = torch.zeros(2, L), ["a", "b"]
    cond = make_condition("mixture", seed=0, pool=pool, pool_ids=ids, pool_labels=[0, 1], different_class=True)
    with pytest.raises(ValueError, match=r"^condition mixture with different_class needs the clips' labels$"):
        cond.apply(torch.zeros(1, L), ["x"], 0)


def test_an_exhausted_pool_names_the_clip_and_the_class_constraint():
    pool = torch.zeros(2, L)
    plain = make_condition("mixture", seed=0, pool=pool, pool_ids=["a", "a"])
    with pytest.raises(LmacError, match=r"^condition mixture: the pool holds no clip to mix with 'a'$"):
        plain.apply(torch.ones(1, L), ["a"], 0)
    by_class = make_condition(
        "mixture", seed=0, pool=pool, pool_ids=["a", "b"], pool_labels=[3, 3], different_class=True
    )
    with pytest.raises(
        LmacError, match=r"^condition mixture: the pool holds no clip to mix with 'x' of another class$"
    ):
        by_class.apply(torch.ones(1, L), ["x"], 0, labels=[3])


def test_make_condition_messages_name_key_and_value():
    with pytest.raises(LmacError, match=re.escape("unknown (known: clean, in_domain, mixture, speech, white_noise)")):
        make_condition("reverb", seed=0)
    with pytest.raises(LmacError, match=re.escape("peak = 'max': must be one of signed, abs")):
        make_condition("white_noise", seed=0, peak="max")
    with pytest.raises(LmacError, match=re.escape("evaluation condition clean: seed = 1.5: must be an integer")):
        make_condition("clean", seed=1.5)
    with pytest.raises(LmacError, match=re.escape("versions = 2.5: must be a positive integer")):
        make_condition("white_noise", seed=0, versions=2.5)
    with pytest.raises(
        LmacError,
        match=r"^evaluation condition in_domain needs a noise source \(WHAM! folder or generated noise\)$",
    ):
        make_condition("in_domain", seed=0)


def test_float64_clips_are_mixed_at_exactly_the_condition_snr():
    # a quiet clip and an interferer of the same norm: the ratio of the components is g_s / g_n
    s = clip(2, scale=1e-5)
    cond = make_condition("speech", seed=0, speech_source=Fixed(-s.flip(0)), peak="abs")
    out = cond.apply(s.double()[None], ["a"], 0)
    assert out.wav.dtype == out.interferer.dtype == torch.float64
    ratio = (out.target.norm() / out.interferer.norm()).item()
    assert ratio == pytest.approx(0.8 / 0.2, rel=1e-9)


def test_peak_normalised_contaminated_clips_stay_within_one():
    for peak in ("signed", "abs"):
        out = make_condition("white_noise", seed=0, peak=peak).apply(clip(3).double()[None], ["a"], 0)
        assert 0.99 < out.wav.abs().max().item() < 1.0


def test_an_all_negative_row_falls_back_to_its_own_absolute_maximum():
    # row 0 mixes to an all-negative clip (no positive maximum to divide by): it is scaled by its own
    # absolute maximum, one number for the whole row, whatever the other rows hold
    quiet = -(1.0 + torch.rand(L, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    cond = make_condition("speech", seed=0, speech_source=Fixed(-torch.ones(L)))
    out = cond.apply(torch.stack([quiet, clip(4).double()]), ["a", "b"], 0)
    mix0 = 0.8 * quiet / quiet.norm() + 0.2 * -torch.ones(L, dtype=torch.float64) / L**0.5
    torch.testing.assert_close(out.wav[0], mix0 / mix0.abs().max(), rtol=1e-6, atol=0)
    assert out.wav[1].max().item() == pytest.approx(1.0, abs=1e-6)


def test_missing_sources_pools_and_labels_are_named():
    with pytest.raises(
        LmacError,
        match=r"^evaluation condition speech needs a speech source \(LJSpeech folder or the speech proxy\)$",
    ):
        make_condition("speech", seed=0)
    for given in ({"pool": torch.zeros(2, L)}, {"pool_ids": ["a", "b"]}):
        with pytest.raises(LmacError, match=r"^evaluation condition mixture needs a pool of clips and their ids$"):
            make_condition("mixture", seed=0, **given)
    with pytest.raises(
        LmacError, match=r"^evaluation condition mixture: different_class needs one pool label per pool clip$"
    ):
        make_condition("mixture", seed=0, pool=torch.zeros(2, L), pool_ids=["a", "b"], different_class=True)
