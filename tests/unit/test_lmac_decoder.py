"""L-MAC decoder ψ: parity with SpeechBrain's CNN14PSI_stft, any clip length, frame fitting.

The width-1 decoder has ~237 M parameters: it is built once per module and run once, on batch-1
representations of a 5 s clip. Length coverage uses width 1/16, where SpeechBrain's
``CNN14PSI_stft(dim=128)`` is the matching oracle.
"""

from __future__ import annotations

import pytest
import torch

from lmac.classifier.cnn14 import Cnn14
from lmac.errors import LmacError
from lmac.explainers.lmac_decoder import LmacDecoder, fit_frames

sb_cnn14 = pytest.importorskip("speechbrain.lobes.models.Cnn14")

N_FREQS = 513  # n_fft 1024
HS_5S = [(2048, 13, 2), (1024, 13, 2), (512, 26, 5), (256, 53, 10)]  # CNN14 hs at 431 frames


def _random_hs(shapes, batch: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    # post-ReLU, average-pooled activations are non-negative
    return tuple(torch.rand(batch, *s, generator=gen) for s in shapes)


@pytest.fixture(scope="module")
def width1_pair():
    """(ours, SpeechBrain's) width-1 decoder, SpeechBrain's weights loaded strictly into ours."""
    torch.manual_seed(0)
    sb = sb_cnn14.CNN14PSI_stft(dim=2048, outdim=1).eval()
    torch.manual_seed(1)  # different init, so the load is what makes them agree
    ours = LmacDecoder(width=1.0).eval()
    ours.load_state_dict(sb.state_dict(), strict=True)
    return ours, sb


@pytest.fixture(scope="module")
def width1_outputs(width1_pair):
    ours, sb = width1_pair
    hs = _random_hs(HS_5S, batch=1, seed=2)
    with torch.no_grad():
        return ours(hs), sb(hs)


def test_width1_state_dict_keys_and_shapes_equal_speechbrain(width1_pair):
    ours, sb = width1_pair
    ours_sd, sb_sd = ours.state_dict(), sb.state_dict()
    assert list(ours_sd) == list(sb_sd)
    assert {k: tuple(v.shape) for k, v in ours_sd.items()} == {k: tuple(v.shape) for k, v in sb_sd.items()}


def test_width1_output_matches_speechbrain_at_5s(width1_outputs):
    ours, sb = width1_outputs
    assert sb.shape == (1, 1, 425, N_FREQS)
    assert ours.shape == (1, 425, N_FREQS)  # channel dim squeezed, raw logits
    scale = sb.abs().max()
    assert scale > 0
    assert (ours - sb[:, 0]).abs().max() <= 1e-4 * scale
    # raw logits (no sigmoid or ReLU at the end): negative values must survive
    assert (ours < 0).any()


def _tiny_cnn_and_decoder(seed: int = 0):
    torch.manual_seed(seed)
    return Cnn14(width=1 / 16).eval(), LmacDecoder(width=1 / 16).eval()


def test_tiny_width_matches_speechbrain_where_reference_runs():
    # CNN14PSI_stft(dim=128) has exactly the width-1/16 channel counts; at lengths where the
    # reference's deep and skip paths agree, the fitting must be a no-op
    cnn, ours = _tiny_cnn_and_decoder()
    sb = sb_cnn14.CNN14PSI_stft(dim=128, outdim=1).eval()
    sb.load_state_dict(ours.state_dict(), strict=True)
    for n_frames in (40, 431):
        with torch.no_grad():
            _, hs = cnn(torch.randn(2, n_frames, 80))
            torch.testing.assert_close(ours(hs), sb(hs)[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_frames", [63, 100, 216, 431, 862])
def test_tiny_any_length_and_fit_frames(n_frames):
    cnn, dec = _tiny_cnn_and_decoder()
    with torch.no_grad():
        _, hs = cnn(torch.randn(2, n_frames, 80))
        logits = dec(hs)
    t_out = 8 * (n_frames // 8) + 1  # documented decoder frame count at 80 mels
    assert logits.shape == (2, t_out, N_FREQS)
    assert torch.isfinite(logits).all()

    padded = fit_frames(logits, n_frames, N_FREQS, mode="pad")
    assert padded.shape == (2, n_frames, N_FREQS)
    common = min(t_out, n_frames)
    torch.testing.assert_close(padded[:, :common], logits[:, :common], rtol=0, atol=0)
    if n_frames > t_out:  # replicate-padded at the end
        tail = padded[:, t_out:]
        torch.testing.assert_close(tail, logits[:, -1:].expand_as(tail), rtol=0, atol=0)

    ref = fit_frames(logits, n_frames, N_FREQS, mode="reference")
    assert ref.shape == (2, common, N_FREQS)
    torch.testing.assert_close(ref, logits[:, :common], rtol=0, atol=0)


def test_reference_decoder_fails_where_ours_fits():
    # 216 frames: block-4 output has an odd frame count, so the reference's sum (b) mismatches
    cnn, ours = _tiny_cnn_and_decoder()
    sb = sb_cnn14.CNN14PSI_stft(dim=128, outdim=1).eval()
    sb.load_state_dict(ours.state_dict())
    with torch.no_grad():
        _, hs = cnn(torch.randn(1, 216, 80))
        with pytest.raises(RuntimeError):
            sb(hs)
        assert ours(hs).shape == (1, 217, N_FREQS)


def test_fit_frames_reference_5s_drops_last_6_frames():
    logits = torch.randn(1, 425, N_FREQS)
    assert fit_frames(logits, 431, N_FREQS, mode="reference").shape == (1, 425, N_FREQS)
    assert fit_frames(logits, 431, N_FREQS, mode="pad").shape == (1, 431, N_FREQS)


def test_fit_frames_frequency_axis_and_errors():
    logits = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    out = fit_frames(logits, 5, 6)
    assert out.shape == (2, 5, 6)
    torch.testing.assert_close(out[:, :3, :4], logits)
    torch.testing.assert_close(out[:, :3, 4:], logits[:, :, 3:].expand(2, 3, 2))
    torch.testing.assert_close(out[:, 3:, :4], logits[:, 2:].expand(2, 2, 4))
    cropped = fit_frames(logits, 2, 2, mode="reference")
    torch.testing.assert_close(cropped, logits[:, :2, :2])
    with pytest.raises(LmacError, match="mode"):
        fit_frames(logits, 3, 4, mode="zeros")
    with pytest.raises(LmacError):
        fit_frames(logits[0], 3, 4)


def test_gradients_reach_every_decoder_parameter():
    cnn, dec = _tiny_cnn_and_decoder()
    dec.train()
    with torch.no_grad():
        # 208 frames: the deep path is replicate-padded at sum (b) and cropped at sum (c)
        _, hs = cnn(torch.randn(2, 208, 80))
    mask = torch.sigmoid(fit_frames(dec(hs), 208, N_FREQS))
    (mask * torch.randn_like(mask)).sum().backward()
    for name, param in dec.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
