import numpy as np
import pytest
import soundfile as sf
import torch

from lmac.data.audio_folder import AudioFolder
from lmac.data.noise import GeneratedNoise, mix, noise_source
from lmac.errors import LmacError


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
    assert abs(out.max().item() - 1) < 1e-5
    assert out.min().item() < -1.0  # the negative peak is left above 1 in magnitude
    with pytest.raises(LmacError, match="noise.peak: unknown peak normalisation 'max'"):
        mix(clean, clean, peak="max")


def test_generated_noise_is_seeded():
    a = GeneratedNoise(7, 16000).draw(2, 4000)
    b = GeneratedNoise(7, 16000).draw(2, 4000)
    c = GeneratedNoise(8, 16000).draw(2, 4000)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all() and a.std() > 0


def test_generated_sample_depends_only_on_the_callers_generator():
    # two sources with different own seeds and a draw in between: the caller's generator decides
    src_a, src_b = GeneratedNoise(1, 16000), GeneratedNoise(2, 16000)
    src_b.draw(3, 100)
    x = src_a.sample(4000, torch.Generator().manual_seed(5))
    y = src_b.sample(4000, torch.Generator().manual_seed(5))
    z = src_a.sample(4000, torch.Generator().manual_seed(6))
    assert x.shape == (4000,) and torch.equal(x, y) and not torch.equal(x, z)
    g = torch.Generator().manual_seed(5)
    first, second = src_a.sample(4000, g), src_a.sample(4000, g)
    assert not torch.equal(first, second)  # the generator advances: consecutive items differ


def test_noise_source_generated_and_errors(tmp_path):
    src = noise_source({"source": "generated", "snr_db": 0.0, "peak": "abs"}, None, 16000, 3)
    assert isinstance(src, GeneratedNoise) and src.sample_rate == 16000
    assert torch.equal(src.draw(1, 100), GeneratedNoise(3, 16000).draw(1, 100))
    with pytest.raises(LmacError, match="needs the extracted WHAM! folder"):
        noise_source({"source": "wham"}, None, 16000, 0)
    with pytest.raises(LmacError, match="no tr/ folder"):
        noise_source({"source": "wham"}, tmp_path, 16000, 0)
    with pytest.raises(LmacError, match="noise.source: unknown value 'pink'"):
        noise_source({"source": "pink"}, None, 16000, 0)


def test_noise_source_wham_reads_tr_first_seconds(tmp_path):
    tr = tmp_path / "wham_noise" / "tr"
    tr.mkdir(parents=True)
    (tmp_path / "wham_noise" / "cv").mkdir()
    ramp = np.linspace(-0.5, 0.5, 16000, dtype=np.float32)
    sf.write(tr / "a.wav", np.stack([ramp, ramp], axis=1), 16000)  # stereo: averaged
    sf.write(tmp_path / "wham_noise" / "cv" / "b.wav", np.ones(16000, np.float32) * 0.3, 16000)  # not tr/: unused
    src = noise_source({"source": "wham"}, tmp_path / "wham_noise", 16000, 0)
    assert isinstance(src, AudioFolder) and len(src) == 1 and src.offset == "first"
    clip = src.sample(8000, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(clip.numpy(), ramp[:8000], atol=1e-4)  # the first 0.5 s, as the reference
    assert src.sample(20000, torch.Generator().manual_seed(0))[16000:].abs().max() == 0  # zero-padded


def test_downloaded_archives_extract_to_the_folders_the_sources_read(tmp_path, capsys):
    """`lmac download wham|ljspeech`: the marker picks the dataset folder (zip and tar.bz2)."""
    import hashlib
    import tarfile
    import zipfile
    from pathlib import Path

    from lmac.cli import main as cli_main

    wav = tmp_path / "a.wav"
    sf.write(wav, np.full(16000, 0.25, np.float32), 16000)
    with zipfile.ZipFile(tmp_path / "wham_noise.zip", "w") as zf:
        zf.write(wav, "wham_noise/tr/a.wav")
        zf.writestr("wham_noise/metadata/noise_meta_tr.csv", "utterance_id\na\n")
    with tarfile.open(tmp_path / "LJSpeech-1.1.tar.bz2", "w:bz2") as tf:
        tf.add(wav, "LJSpeech-1.1/wavs/LJ001-0001.wav")
        meta = tmp_path / "metadata.csv"
        meta.write_text("LJ001-0001|x|x\n")
        tf.add(meta, "LJSpeech-1.1/metadata.csv")
    tiny = Path(__file__).resolve().parents[1] / "workflow" / "tiny.yaml"
    for name, archive in (("wham", "wham_noise.zip"), ("ljspeech", "LJSpeech-1.1.tar.bz2")):
        digest = hashlib.sha256((tmp_path / archive).read_bytes()).hexdigest()  # tiny.yaml pins the real LJSpeech
        code = cli_main(
            [
                "--config",
                str(tiny),
                "download",
                name,
                "--url",
                (tmp_path / archive).as_uri(),
                "--sha256",
                digest,
                "--archive",
                str(tmp_path / "archives" / archive),
                "--out",
                str(tmp_path / name),
            ]
        )
        assert code in (0, None), capsys.readouterr().err
    assert (tmp_path / "wham" / "tr" / "a.wav").is_file() and (tmp_path / "ljspeech" / "wavs").is_dir()
    src = noise_source({"source": "wham"}, tmp_path / "wham", 16000, 0)
    assert torch.allclose(src.sample(100, torch.Generator().manual_seed(0)), torch.full((100,), 0.25), atol=1e-4)
