"""L2I's ψ and θ: parity with SpeechBrain's CNN14PSI_stft_2d and Theta for equal weights."""

from __future__ import annotations

import pytest
import torch

from lmac.classifier.cnn14 import Cnn14
from lmac.explainers.l2i_psi import L2IPsi, Theta

sb_l2i = pytest.importorskip("speechbrain.lobes.models.L2I")

HS_5S = [(2048, 13, 2), (1024, 13, 2), (512, 26, 5), (256, 53, 10)]  # CNN14 hs at 431 frames


def test_width1_psi_matches_speechbrain_at_5s():
    torch.manual_seed(0)
    sb = sb_l2i.CNN14PSI_stft_2d(dim=2048, K=100).eval()
    torch.manual_seed(1)  # a different init: the load is what makes them agree
    ours = L2IPsi(n_components=100, width=1.0).eval()
    ours.load_state_dict(sb.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(2)
    hs = tuple(torch.rand(1, *s, generator=gen) for s in HS_5S)
    with torch.no_grad():
        expected, got = sb(list(hs)), ours(hs)
    assert expected.shape == (1, 100, 431)  # one activation per component and STFT frame of a 5 s clip
    assert got.shape == expected.shape
    assert expected.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))


@pytest.mark.parametrize("n_frames", [40, 201])
def test_tiny_width_psi_matches_speechbrain_from_a_cnn14(n_frames):
    torch.manual_seed(0)
    cnn, ours = Cnn14(width=1 / 16).eval(), L2IPsi(n_components=12, width=1 / 16).eval()
    sb = sb_l2i.CNN14PSI_stft_2d(dim=128, K=12).eval()
    sb.load_state_dict(ours.state_dict(), strict=True)
    with torch.no_grad():
        _, hs = cnn(torch.randn(2, n_frames, 80))
        got, expected = ours(hs), sb(list(hs))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert (got >= 0).all()


def test_theta_matches_speechbrain_softmax_and_relevance_is_normalised():
    torch.manual_seed(0)
    sb = sb_l2i.Theta(n_comp=8, T=30, num_classes=5).eval()
    ours = Theta(n_components=8, n_frames=30, n_classes=5)
    ours.load_state_dict(sb.state_dict(), strict=True)
    h = torch.rand(3, 8, 30)
    torch.testing.assert_close(ours(h).softmax(-1), sb(h))
    r = ours.relevance(h, torch.tensor([0, 4, 2]))
    assert r.shape == (3, 8)
    torch.testing.assert_close(r.abs().amax(-1), torch.ones(3))
    expected = ours.classifier[0].weight[4] * ours.hard_att(h[1]).squeeze(-1)
    torch.testing.assert_close(r[1], expected / expected.abs().max())


def test_theta_fits_other_clip_lengths():
    theta = Theta(n_components=4, n_frames=10, n_classes=3)
    h = torch.rand(2, 4, 10)
    longer = torch.cat([h, torch.rand(2, 4, 5)], -1)
    shorter = h[..., :6]
    torch.testing.assert_close(theta(longer), theta(h))  # extra frames are cropped
    torch.testing.assert_close(theta(shorter), theta(torch.cat([shorter, torch.zeros(2, 4, 4)], -1)))
