import torch

from lmac.data.noise import GeneratedNoise, mix


def test_zero_db_mix_has_equal_energy_before_normalisation():
    g = torch.Generator().manual_seed(1)
    clean, noise = torch.randn(3, 8000, generator=g) * 5, torch.randn(3, 8000, generator=g) * 0.01
    out = mix(clean, noise, snr_db=0.0, peak="none")
    s = clean / clean.norm(dim=-1, keepdim=True)
    n = noise / noise.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(out, s + n)
    assert torch.allclose(mix(clean, noise).abs().amax(-1), torch.ones(3), atol=1e-5)


def test_snr_sets_the_noise_level():
    g = torch.Generator().manual_seed(2)
    clean, noise = torch.randn(1, 8000, generator=g), torch.randn(1, 8000, generator=g)
    out = mix(clean, noise, snr_db=20.0, peak="none")
    residual = out - clean / clean.norm()
    assert abs(20 * torch.log10(1 / residual.norm()).item() - 20.0) < 1e-3


def test_signed_peak_is_the_reference_normalisation():
    clean = torch.tensor([[0.1, -0.9, 0.2, 0.0]])
    out = mix(clean, torch.zeros_like(clean) + 1e-9, snr_db=60.0, peak="signed")
    assert out.max().item() == torch.tensor(1.0).item() or abs(out.max().item() - 1) < 1e-5
    assert out.min().item() < -1.0  # the negative peak is left above 1 in magnitude


def test_generated_noise_is_seeded():
    a = GeneratedNoise(7, 16000).draw(2, 4000)
    b = GeneratedNoise(7, 16000).draw(2, 4000)
    c = GeneratedNoise(8, 16000).draw(2, 4000)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all() and a.std() > 0
