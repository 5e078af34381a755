import math

import pytest
import torch

from lmac.data.noise import mix
from lmac.data.speech import SyntheticSpeech
from lmac.errors import LmacError
from lmac.evaluation.conditions import (
    CONDITIONS,
    REFERENCE_VERSIONS,
    Contaminated,
    item_generator,
    item_seed,
    make_condition,
)

L = 4000
IDS = ["4-100001-A-0", "4-100002-A-1", "4-100003-A-2"]


class CountingNoise:
    """A noise source that records how often it is asked (to show draws are per item)."""

    def __init__(self):
        self.calls = 0

    def sample(self, length, generator):
        self.calls += 1
        return 3.0 * torch.randn(length + 7, generator=generator)[:length]


@pytest.fixture
def wav() -> torch.Tensor:
    t = torch.arange(L) / 16000
    freqs = torch.tensor([300.0, 800.0, 1500.0])[:, None]
    hiss = 0.05 * torch.randn(3, L, generator=torch.Generator().manual_seed(0))
    return 0.5 * torch.sin(2 * math.pi * freqs * t) + hiss


@pytest.fixture
def pool() -> tuple[torch.Tensor, list[str]]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(5, L + 100, generator=g), [f"5-20000{i}-A-{i}" for i in range(5)]


def _conditions(pool, peak="signed", id_versions=None):
    clips, ids = pool
    return {
        "in_domain": make_condition("in_domain", seed=3, noise_source=CountingNoise(), peak=peak, versions=id_versions),
        "mixture": make_condition("mixture", seed=3, pool=clips, pool_ids=ids, peak=peak),
        "speech": make_condition("speech", seed=3, speech_source=SyntheticSpeech(16000, 0), peak=peak),
        "white_noise": make_condition("white_noise", seed=3, peak=peak),
    }


def _db(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 20 * torch.log10(a.norm(dim=-1) / b.norm(dim=-1))


@pytest.mark.parametrize("peak", ["signed", "abs"])
def test_ratios_decomposition_and_peak(wav, pool, peak):
    expected_db = {
        "in_domain": 0.0,
        "mixture": 20 * math.log10(4),
        "speech": 20 * math.log10(4),
        "white_noise": 20 * math.log10(2),
    }
    for name, cond in _conditions(pool, peak).items():
        out = cond.apply(wav, IDS, 0)
        assert isinstance(out, Contaminated) and out.wav.shape == wav.shape
        torch.testing.assert_close(out.wav, out.target + out.interferer)
        torch.testing.assert_close(
            _db(out.target, out.interferer), torch.full((3,), expected_db[name]), atol=1e-3, rtol=0
        )
        assert cond.snr_db == pytest.approx(expected_db[name])
        # the target component is the input clip, only rescaled
        scale = (out.target * wav).sum(-1) / (wav * wav).sum(-1)
        torch.testing.assert_close(out.target, scale[:, None] * wav, atol=1e-6, rtol=1e-5)
        peaks = out.wav.amax(-1) if peak == "signed" else out.wav.abs().amax(-1)
        torch.testing.assert_close(peaks, torch.ones(3), atol=1e-6, rtol=0)
    assert round(expected_db["mixture"], 2) == 12.04 and round(expected_db["white_noise"], 2) == 6.02


def test_in_domain_matches_the_training_mixer(wav, pool):
    """Same formula as data.noise.mix (0 dB, signed peak), given the same noise."""
    cond = _conditions(pool)["in_domain"]
    out = cond.apply(wav, IDS, 0)
    noise = torch.stack([cond.noise_source.sample(L, item_generator(3, "in_domain", 0, i)) for i in IDS])
    torch.testing.assert_close(out.wav, mix(wav, noise, 0.0, peak="signed"))


def test_white_noise_is_gaussian_and_fresh_per_version(wav, pool):
    cond = make_condition("white_noise", seed=3)
    assert cond.versions == 2
    n0 = cond.apply(wav, IDS, 0).interferer
    n1 = cond.apply(wav, IDS, 1).interferer
    assert not torch.allclose(n0, n1)
    z = n0 / n0.std(dim=-1, keepdim=True)
    assert abs(float(z.mean())) < 0.05 and abs(float((z**4).mean()) - 3) < 0.3  # kurtosis of N(0,1)


def test_clean_is_unchanged(wav):
    cond = make_condition("clean", seed=3, versions=5)
    assert cond.versions == 1 and math.isinf(cond.snr_db)
    out = cond.apply(wav, IDS, 0)
    assert torch.equal(out.wav, wav) and torch.equal(out.target, wav)
    assert torch.count_nonzero(out.interferer) == 0 and out.interferer.shape == wav.shape


def test_reference_version_counts():
    assert REFERENCE_VERSIONS == {"clean": 1, "in_domain": 1, "mixture": 2, "speech": 2, "white_noise": 2}
    assert make_condition("in_domain", seed=0, noise_source=CountingNoise()).versions == 1
    assert make_condition("in_domain", seed=0, noise_source=CountingNoise(), versions=3).versions == 3
    cond = make_condition("white_noise", seed=0)
    assert cond.item_ids(["a", "b"], 1) == ["a@v1", "b@v1"]
    assert make_condition("clean", seed=0).item_ids(["a"], 0) == ["a"]
    with pytest.raises(ValueError, match="version"):
        cond.apply(torch.zeros(1, 10), ["a"], 2)


def test_determinism_across_batch_sizes_and_order(wav, pool):
    for name, cond in _conditions(pool, id_versions=2).items():
        full = cond.apply(wav, IDS, 1)
        # one clip at a time, in reverse order, after unrelated draws
        cond.apply(wav[:1], ["other"], 0)
        rows = [cond.apply(wav[i : i + 1], [IDS[i]], 1) for i in reversed(range(3))][::-1]
        for field in ("wav", "target", "interferer"):
            torch.testing.assert_close(
                getattr(full, field),
                torch.cat([getattr(r, field) for r in rows]),
                rtol=0,
                atol=0,
                msg=f"{name}.{field}",
            )
        again = _conditions(pool, id_versions=2)[name].apply(wav, IDS, 1)  # a new object, same settings
        assert torch.equal(again.wav, full.wav)
        other_version = cond.apply(wav, IDS, 0)
        other_seed = make_condition(
            name,
            seed=4,
            noise_source=CountingNoise(),
            pool=pool[0],
            pool_ids=pool[1],
            speech_source=SyntheticSpeech(16000, 0),
            versions=2,
        ).apply(wav, IDS, 1)
        assert not torch.equal(other_version.interferer, full.interferer)
        assert not torch.equal(other_seed.interferer, full.interferer)


def test_item_seed_is_stable():
    # pinned: changing the derivation would silently change every evaluation input
    assert item_seed(0, "mixture", 1, "4-100001-A-0") == 4191948472974498315
    assert item_seed(0, "mixture", 1, "4-100001-A-0") != item_seed(0, "speech", 1, "4-100001-A-0")


def test_mixture_never_uses_the_clip_itself(pool):
    clips, ids = pool
    two, two_ids = clips[:2], ids[:2]
    cond = make_condition("mixture", seed=0, pool=two, pool_ids=two_ids, versions=12)
    for v in range(12):
        out = cond.apply(two[:, :L], two_ids, v)
        for row, other in ((0, 1), (1, 0)):
            n = out.interferer[row]
            assert float(torch.nn.functional.cosine_similarity(n, two[other, :L], dim=0)) > 0.9999
    alone = make_condition("mixture", seed=0, pool=clips[:1], pool_ids=ids[:1])
    with pytest.raises(LmacError, match="no clip to mix with"):
        alone.apply(clips[:1, :L], ids[:1], 0)


def test_mixture_picks_spread_over_the_pool_and_fit_length(pool):
    clips, ids = pool
    cond = make_condition("mixture", seed=0, pool=clips.numpy(), pool_ids=ids, versions=2)  # numpy pool
    target = torch.randn(40, 300, generator=torch.Generator().manual_seed(5))
    picked = set()
    out = cond.apply(target, [f"x{i}" for i in range(40)], 0)
    for n in out.interferer:
        sims = torch.nn.functional.cosine_similarity(n[None], clips[:, :300], dim=1)
        picked.add(int(sims.argmax()))
        assert float(sims.max()) > 0.9999  # cropped to the target length
    assert len(picked) >= 4
    longer = cond.apply(torch.randn(1, L + 300), ["y"], 0)  # pool clips zero-padded
    assert torch.count_nonzero(longer.interferer[0, L + 100 :]) == 0


def test_mixture_different_class_option(pool):
    clips, ids = pool
    labels = [0, 0, 1, 1, 1]
    cond = make_condition(
        "mixture", seed=0, pool=clips, pool_ids=ids, pool_labels=labels, different_class=True, versions=10
    )
    target = torch.randn(2, L)
    for v in range(10):
        out = cond.apply(target, ["a", "b"], v, labels=torch.tensor([0, 1]))
        for row, allowed in ((0, {2, 3, 4}), (1, {0, 1})):
            sims = torch.nn.functional.cosine_similarity(out.interferer[row][None], clips[:, :L], dim=1)
            assert int(sims.argmax()) in allowed
    with pytest.raises(ValueError, match="labels"):
        cond.apply(target, ["a", "b"], 0)


def test_sources_are_asked_once_per_item(wav):
    noise = CountingNoise()
    cond = make_condition("in_domain", seed=0, noise_source=noise)
    cond.apply(wav, IDS, 0)
    assert noise.calls == 3


def test_errors_name_the_problem(pool):
    with pytest.raises(LmacError, match="unknown"):
        make_condition("reverb", seed=0)
    with pytest.raises(LmacError, match="noise source"):
        make_condition("in_domain", seed=0)
    with pytest.raises(LmacError, match="speech source"):
        make_condition("speech", seed=0)
    with pytest.raises(LmacError, match="pool"):
        make_condition("mixture", seed=0)
    with pytest.raises(LmacError, match="pool"):
        make_condition("mixture", seed=0, pool=pool[0], pool_ids=pool[1][:2])
    with pytest.raises(LmacError, match="peak"):
        make_condition("white_noise", seed=0, peak="max")
    with pytest.raises(LmacError, match="versions"):
        make_condition("white_noise", seed=0, versions=0)
    with pytest.raises(LmacError, match="pool label"):
        make_condition("mixture", seed=0, pool=pool[0], pool_ids=pool[1], different_class=True)
    assert set(CONDITIONS) == {"clean", "in_domain", "mixture", "speech", "white_noise"}


def test_describe_records_settings(pool):
    d = _conditions(pool)["mixture"].describe()
    assert d["name"] == "mixture" and d["pool_size"] == 5 and d["target_gain"] == 0.8
    assert d["interferer_gain"] == 0.2 and d["peak"] == "signed" and d["versions"] == 2
    assert "SyntheticSpeech" in _conditions(pool)["speech"].describe()["source"]
