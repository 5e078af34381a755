"""Metrics on hand-computed cases, on the masks of the two sanity references, and batched."""

import math

import pytest
import torch

from lmac.evaluation.metrics import (
    HIGHER_IS_BETTER,
    METRICS,
    all_metrics,
    complexity,
    faithfulness,
    mask_mean,
    sparseness,
)
from lmac.explainers.attribution_maps import AllOnesExplainer


def logits_for(probs):
    return torch.log(torch.tensor(probs, dtype=torch.float64)).float()


def softmax(values):
    e = [math.exp(v) for v in values]
    return [v / sum(e) for v in e]


def test_metric_names_and_directions_are_stable():
    assert METRICS == ("AI", "AD", "AD_ref", "AG", "FF", "FidIn", "SPS", "COMP", "MM")
    assert set(HIGHER_IS_BETTER) == set(METRICS)
    assert [m for m in METRICS if HIGHER_IS_BETTER[m]] == ["AI", "AG", "FF", "FidIn", "SPS"]
    assert [m for m in METRICS if HIGHER_IS_BETTER[m] is False] == ["AD", "AD_ref", "COMP"]


def test_faithfulness_hand_computed():
    # p_c = 0.6 on the input; masked-in raises it to 0.8; masked-out drops it to 0.1
    x = logits_for([[0.6, 0.3, 0.1]])
    x_in = logits_for([[0.8, 0.1, 0.1]])
    x_out = logits_for([[0.1, 0.5, 0.4]])
    m = faithfulness(x, x_in, x_out)
    assert m["AI"].item() == 100.0
    assert m["AD"].item() == pytest.approx(0.0)
    assert m["AD_ref"].item() == pytest.approx(0.0)
    assert m["AG"].item() == pytest.approx(100 * (0.8 - 0.6) / (1 - 0.6), rel=1e-5)
    assert m["FF"].item() == pytest.approx(0.6 - 0.1, rel=1e-5)
    assert m["FidIn"].item() == 1.0


def test_average_drop_and_fid_in_when_the_mask_loses_the_class():
    x = logits_for([[0.6, 0.3, 0.1]])
    x_in = logits_for([[0.3, 0.6, 0.1]])
    m = faithfulness(x, x_in, x)
    assert m["AI"].item() == 0.0
    assert m["AD"].item() == pytest.approx(100 * 0.3 / 0.6, rel=1e-5)
    assert m["AG"].item() == 0.0
    assert m["FF"].item() == pytest.approx(0.0, abs=1e-6)
    assert m["FidIn"].item() == 0.0


def test_ad_ref_is_the_double_softmax_and_differs_from_ad():
    # same case as above, worked out by hand: the reference applies softmax to the probabilities
    m = faithfulness(logits_for([[0.6, 0.3, 0.1]]), logits_for([[0.3, 0.6, 0.1]]), logits_for([[0.6, 0.3, 0.1]]))
    p2 = softmax([0.6, 0.3, 0.1])[0]  # 0.4018
    o2 = softmax([0.3, 0.6, 0.1])[0]  # 0.2976
    expected = 100 * (p2 - o2) / p2  # ≈ 25.9 %, while textbook AD is 50 %
    assert m["AD_ref"].item() == pytest.approx(expected, rel=1e-5)
    assert m["AD"].item() == pytest.approx(50.0, rel=1e-5)
    assert abs(m["AD"].item() - m["AD_ref"].item()) > 20


def test_reference_ad_applies_softmax_twice():
    # the reference harness: 50 classes, p_c 0.95 → 0.0 gives true AD 100 %, reported ≈ 60.9 %
    def probs(pc):
        rest = (1 - pc) / 49
        return [[max(pc, 1e-12)] + [rest] * 49]

    x, x_in = logits_for(probs(0.95)), logits_for(probs(0.0))
    m = faithfulness(x, x_in, x_in)
    assert m["AD"].item() == pytest.approx(100.0, rel=1e-4)
    assert m["AD_ref"].item() == pytest.approx(60.9, abs=0.1)
    x, x_in = logits_for(probs(0.60)), logits_for(probs(0.30))
    m = faithfulness(x, x_in, x_in)
    assert m["AD"].item() == pytest.approx(50.0, rel=1e-4)
    assert m["AD_ref"].item() == pytest.approx(25.7, abs=0.1)


def test_explicit_target_is_the_class_scored():
    x = logits_for([[0.6, 0.3, 0.1]])
    x_in = logits_for([[0.2, 0.7, 0.1]])
    m = faithfulness(x, x_in, x, target=torch.tensor([1]))
    assert m["AI"].item() == 100.0
    assert m["AG"].item() == pytest.approx(100 * (0.7 - 0.3) / 0.7, rel=1e-5)
    assert m["FidIn"].item() == 1.0  # argmax of the masked-in input is the explained class 1


def test_sparseness_extremes():
    uniform = torch.ones(1, 10, 10)
    one_hot = torch.zeros(1, 10, 10)
    one_hot[0, 3, 4] = 1.0
    assert sparseness(uniform).item() == pytest.approx(0.0, abs=1e-6)
    # Gini of a single spike among d elements is (d-1)/d (up to the 1e-7 offset)
    assert sparseness(one_hot).item() == pytest.approx(99 / 100, abs=1e-4)


def test_sparseness_is_scale_free_uses_abs_and_sorts():
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(3, 7, 9, generator=gen)
    s = sparseness(a)
    torch.testing.assert_close(sparseness(1000 * a), s)  # max-normalised first, as Quantus
    torch.testing.assert_close(sparseness(-a), s)  # |a|
    perm = torch.randperm(63, generator=gen)
    torch.testing.assert_close(sparseness(a.flatten(1)[:, perm]), s)  # order-free (sorted inside)
    # hand formula on a tiny map: a = (0, 1, 3) → +1e-7, max-normalised → (1e-7, 1/3+1e-7, 1+1e-7)
    v = [1e-7, 1 / 3 + 1e-7, 1 + 1e-7]
    gini = sum((2 * i - 3 - 1) * x for i, x in enumerate(v, start=1)) / (3 * sum(v))
    assert sparseness(torch.tensor([[0.0, 1.0, 3.0]], dtype=torch.float64)).item() == pytest.approx(gini, rel=1e-12)


def test_complexity_extremes():
    assert complexity(torch.ones(1, 4, 5)).item() == pytest.approx(math.log(20), rel=1e-6)
    spike = torch.zeros(1, 4, 5)
    spike[0, 0, 0] = 3.0
    assert complexity(spike).item() == pytest.approx(0.0, abs=1e-9)
    # two equal bins out of 20: ln 2; signs do not matter (|a|)
    two = torch.zeros(1, 20)
    two[0, 3], two[0, 7] = 0.5, -0.5
    assert complexity(two).item() == pytest.approx(math.log(2), rel=1e-6)


def test_all_zero_map_has_no_sparseness_or_complexity():
    # Quantus refuses all-zero maps and the reference skips them: NaN, which the report drops
    assert math.isnan(sparseness(torch.zeros(1, 4, 5)).item())
    assert math.isnan(complexity(torch.zeros(1, 4, 5)).item())


def test_batched_metrics_equal_per_clip_metrics_and_keep_float16_masks():
    gen = torch.Generator().manual_seed(0)
    logits, l_in, l_out = (torch.randn(5, 4, generator=gen) for _ in range(3))
    mask = torch.rand(5, 6, 7, generator=gen)
    mask[2] = 0.0
    batch = all_metrics(logits, l_in, l_out, mask)
    for i in range(5):
        one = all_metrics(logits[i : i + 1], l_in[i : i + 1], l_out[i : i + 1], mask[i : i + 1])
        for name in METRICS:
            torch.testing.assert_close(batch[name][i : i + 1], one[name], equal_nan=True)
    half = all_metrics(logits, l_in, l_out, mask.half())
    assert half["SPS"].dtype == torch.float32 and half["MM"].dtype == torch.float32
    torch.testing.assert_close(half["MM"], batch["MM"], atol=1e-3, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_metrics_on_gpu_equal_cpu():
    gen = torch.Generator().manual_seed(0)
    logits, l_in, l_out = (torch.randn(4, 10, generator=gen) for _ in range(3))
    mask = torch.rand(4, 431, 513, generator=gen)
    cpu = all_metrics(logits, l_in, l_out, mask)
    gpu = all_metrics(logits.cuda(), l_in.cuda(), l_out.cuda(), mask.cuda())
    for name in METRICS:
        assert gpu[name].device.type == "cuda"
        torch.testing.assert_close(gpu[name].cpu(), cpu[name], atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def tiny(clf):
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(8000) / 16000
    wav = torch.stack([0.5 * torch.sin(2 * torch.pi * 440 * t), 0.3 * torch.randn(8000, generator=gen)])
    return clf, wav


def test_all_ones_mask_gives_the_worked_out_values(tiny):
    clf, wav = tiny
    exp = AllOnesExplainer(clf).explain(wav)
    with torch.no_grad():
        logits = clf.classify_logspec(exp.logspec)
        m = all_metrics(
            logits, clf.classify_logspec(exp.masked_in), clf.classify_logspec(exp.masked_out), exp.mask, exp.target
        )
        silence = clf.classify_logspec(torch.zeros_like(exp.logspec))
    d = exp.mask[0].numel()
    for i in range(2):
        c = int(exp.target[i])
        p = softmax(logits[i].tolist())
        q = softmax(silence[i].tolist())  # masked-out (1 − 1)·X = 0 is silence
        assert m["AI"][i].item() == 0.0  # o = p: no increase
        assert m["AD"][i].item() == 0.0 and m["AD_ref"][i].item() == 0.0 and m["AG"][i].item() == 0.0
        assert m["FidIn"][i].item() == 1.0
        assert m["FF"][i].item() == pytest.approx(p[c] - q[c], abs=1e-6)
        assert m["SPS"][i].item() == pytest.approx(0.0, abs=1e-6)  # uniform map
        assert m["COMP"][i].item() == pytest.approx(math.log(d), rel=1e-6)
        assert m["MM"][i].item() == 1.0


def test_all_zeros_mask_gives_the_worked_out_values(tiny):
    clf, wav = tiny
    with torch.no_grad():
        x = clf.frontend.log_spectrogram(wav)
        mask = torch.zeros_like(x)
        logits = clf.classify_logspec(x)
        l_in = clf.classify_logspec(mask * x)  # silence
        l_out = clf.classify_logspec((1 - mask) * x)  # the input itself
        m = all_metrics(logits, l_in, l_out, mask)
    for i in range(2):
        p, o = softmax(logits[i].tolist()), softmax(l_in[i].tolist())
        c = max(range(3), key=lambda k: p[k])
        assert m["AI"][i].item() == (100.0 if o[c] > p[c] else 0.0)
        assert m["AD"][i].item() == pytest.approx(100 * max(0.0, p[c] - o[c]) / p[c], abs=1e-4)
        p2, o2 = softmax(p), softmax(o)
        assert m["AD_ref"][i].item() == pytest.approx(100 * max(0.0, p2[c] - o2[c]) / p2[c], abs=1e-4)
        assert m["AG"][i].item() == pytest.approx(100 * max(0.0, o[c] - p[c]) / (1 - p[c]), abs=1e-4)
        assert m["FF"][i].item() == 0.0  # masked-out keeps everything
        assert m["FidIn"][i].item() == float(max(range(3), key=lambda k: o[k]) == c)
        assert math.isnan(m["SPS"][i].item()) and math.isnan(m["COMP"][i].item())
        assert m["MM"][i].item() == 0.0


def test_mask_mean():
    mask = torch.tensor([[[0.0, 1.0], [0.5, 0.5]]])
    assert mask_mean(mask).item() == pytest.approx(0.5)
