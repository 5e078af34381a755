import pytest
import torch
import torch.nn.functional as F

from lmac.errors import LmacError
from lmac.explainers.guidance import GuidanceConfig, crosscorrelation, guidance_loss, guide, oracle_mask


def test_crosscorrelation_hand_cases():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 7, 5, generator=g) + 0.1
    assert torch.allclose(crosscorrelation(x, x), torch.ones(3), atol=1e-6)
    assert torch.allclose(crosscorrelation(x, 3 * x), torch.ones(3), atol=1e-6)  # scale-free
    a = torch.zeros(1, 2, 2)
    a[0, 0, 0] = 1.0
    b = torch.zeros(1, 2, 2)
    b[0, 1, 1] = 1.0
    assert crosscorrelation(a, b).item() == 0.0  # disjoint support
    c = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    d = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    # mean(c·d) = 1/4, rms(c) = sqrt(1/2), rms(d) = 1/2 -> 1/sqrt(2)
    assert crosscorrelation(c, d).item() == pytest.approx(2**-0.5, rel=1e-6)
    assert torch.isfinite(crosscorrelation(torch.zeros(1, 2, 2), c)).all()  # silent input: no NaN
    with pytest.raises(LmacError, match="equal shapes"):
        crosscorrelation(c, torch.zeros(1, 3, 2))


def test_oracle_mask_is_per_utterance():
    x = torch.tensor([[[1.0, 0.2], [0.4, 0.3]], [[10.0, 3.4], [3.6, 9.0]]])
    expected = torch.tensor(
        [
            [[1.0, 0.0], [1.0, 0.0]],  # >= 0.35 x 1
            [[1.0, 0.0], [1.0, 1.0]],
        ]
    )  # >= 0.35 x 10
    assert torch.equal(oracle_mask(x, 0.35), expected)


def test_guidance_loss_only_counts_guided_samples():
    mask = torch.tensor([[[0.9, 0.2]], [[0.6, 0.6]]])
    oracle = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    bce = F.binary_cross_entropy(mask, oracle, reduction="none").mean((-1, -2))
    loss = guidance_loss(mask, oracle, torch.tensor([True, False]), 4.0)
    assert loss.item() == pytest.approx((bce[0] * 4 / 2).item())  # batch mean: divided by B, not by #guided
    assert guidance_loss(mask, oracle, torch.tensor([False, False]), 4.0).item() == 0.0


def test_guide_selects_by_threshold_and_exempts_them():
    clean = torch.zeros(2, 4, 3)
    clean[:, 1, :] = 2.0  # a loud frame
    clean[:, 2, 0] = 0.5  # below 0.35 x max
    noisy = clean.clone()
    noisy[:, 0, :] += 4.0  # loud noise in frames the clean clip leaves silent
    noisy[:, 3, :] += 4.0
    good = torch.zeros(4, 3)
    good[1, :] = 1.0  # keeps exactly the loud frame: masked-in ≈ the clean spectrogram
    mask = torch.stack([good * 0.98 + 0.01, torch.full((4, 3), 0.5)])
    out = guide(mask.requires_grad_(), mask.detach() * noisy, clean, GuidanceConfig())
    assert out.guided.tolist() == [True, False]
    assert out.crosscor[0] > 0.6 > out.crosscor[1]
    assert out.in_masks == 0.5
    out.loss.backward()
    assert mask.grad[1].abs().sum() == 0 and mask.grad[0].abs().sum() > 0  # only the guided sample is pulled
    # the clean spectrogram may have more frames than the mask (the reference's 425 of 431)
    longer = torch.cat([clean, torch.ones(2, 2, 3) * 9], dim=1)
    again = guide(mask.detach(), mask.detach() * noisy, longer, GuidanceConfig())
    assert again.guided.tolist() == [True, False]


def test_guidance_config_from_config_and_errors():
    assert GuidanceConfig.from_config({}) == GuidanceConfig(4.0, 0.6, 0.35, "dotp")
    assert GuidanceConfig.from_config({"g_w": 1, "crosscor_th": 0.7}).crosscor_th == 0.7
    with pytest.raises(LmacError, match="lmac_ft.crosscor: unknown value 'conv'"):
        GuidanceConfig.from_config({"crosscor": "conv"})
    with pytest.raises(LmacError, match="lmac_ft.bin_th"):
        GuidanceConfig(bin_th=2.0)
