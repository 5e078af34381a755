import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from lmac.data.audio_folder import AudioFolder
from lmac.errors import LmacError

SR = 8000


def _tone(freq: float, n: int, sr: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


@pytest.fixture
def folder(tmp_path):
    """Files at other rates and channel counts, one nested, one short, one non-matching."""
    root = tmp_path / "noise"
    (root / "sub").mkdir(parents=True)
    sf.write(root / "a.wav", _tone(440, 3 * SR, SR), SR)  # native rate, mono
    stereo = np.stack([_tone(300, 2 * 16000, 16000), -_tone(300, 2 * 16000, 16000) * 0.5], 1)
    sf.write(root / "b.wav", stereo, 16000)  # 16 kHz stereo
    sf.write(root / "sub" / "c.wav", _tone(1000, 2000, 4000), 4000)  # 4 kHz, 0.5 s: short
    sf.write(root / "d.flac", _tone(200, 3 * 22050, 22050), 22050, format="FLAC")  # other extension
    return root


def test_files_sorted_and_pattern(folder):
    af = AudioFolder(folder, SR)
    assert [p.relative_to(folder).as_posix() for p in af.files] == ["a.wav", "b.wav", "sub/c.wav"]
    assert len(af) == 3
    assert len(AudioFolder(folder, SR, pattern="*.flac")) == 1
    assert len(AudioFolder(folder, SR, pattern="**/*.*")) == 4
    assert [p.name for p in AudioFolder(folder, SR, max_files=2).files] == ["a.wav", "b.wav"]


def test_errors_name_the_folder(tmp_path, folder):
    with pytest.raises(LmacError, match="missing"):
        AudioFolder(tmp_path / "missing", SR)
    with pytest.raises(LmacError, match=str(folder)):
        AudioFolder(folder, SR, pattern="*.mp3")
    with pytest.raises(LmacError, match="offset"):
        AudioFolder(folder, SR, offset="middle")
    with pytest.raises(LmacError, match="max_files"):
        AudioFolder(folder, SR, max_files=0)


def test_load_downmixes_and_resamples(folder):
    af = AudioFolder(folder, SR)
    b = af.load(1)  # 2 s stereo at 16 kHz -> 2 s mono at 8 kHz
    assert b.dtype == torch.float32 and b.shape == (2 * SR,)
    data, sr = sf.read(folder / "b.wav", dtype="float32", always_2d=True)
    expected = torchaudio.transforms.Resample(sr, SR)(torch.from_numpy(data.T.copy()).mean(0))
    torch.testing.assert_close(b, expected)
    # downmix of +x and -0.5x is 0.25x: amplitude 0.125
    assert 0.11 < b[SR // 2 : -SR // 2].abs().max() < 0.14


def test_sample_first_offset_pads_and_crops(folder):
    af = AudioFolder(folder, SR)
    # pick each file by forcing the generator until every file has been seen
    seen = {}
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        state = g.get_state()
        index = int(torch.randint(len(af), (1,), generator=g))
        g.set_state(state)
        seen[index] = af.sample(SR, g)
    assert set(seen) == {0, 1, 2}
    for index, clip in seen.items():
        assert clip.shape == (SR,) and clip.dtype == torch.float32
        full = af.load(index)
        n = min(SR, full.shape[0])
        torch.testing.assert_close(clip[:n], full[:n])  # first samples, no offset
    # the 0.5 s file is zero-padded to 1 s
    assert seen[2][SR // 2 :].abs().max() == 0 and seen[2][: SR // 2].abs().max() > 0.1


def test_random_offset_windows_inside_the_file(folder):
    af = AudioFolder(folder, SR, pattern="a.wav", offset="random")
    full = af.load(0)
    g = torch.Generator().manual_seed(3)
    starts = set()
    for _ in range(5):
        clip = af.sample(1000, g)
        hits = [s for s in range(full.shape[0] - 1000 + 1) if torch.equal(full[s : s + 1000], clip)]
        assert hits
        starts.add(hits[0])
    assert len(starts) > 1


def test_generator_determinism_and_draw(folder):
    af = AudioFolder(folder, SR, offset="random", seed=5)
    x = af.sample(500, torch.Generator().manual_seed(11))
    y = af.sample(500, torch.Generator().manual_seed(11))
    assert torch.equal(x, y)
    d1 = AudioFolder(folder, SR, seed=5).draw(4, 700)
    d2 = AudioFolder(folder, SR, seed=5).draw(4, 700)
    assert d1.shape == (4, 700) and torch.equal(d1, d2)
    # draw continues one stream: two draws of 4 equal one draw of 8
    stream = AudioFolder(folder, SR, offset="random", seed=5)
    torch.testing.assert_close(
        torch.cat([stream.draw(4, 700), stream.draw(4, 700)]),
        AudioFolder(folder, SR, offset="random", seed=5).draw(8, 700),
    )
    assert not torch.equal(
        AudioFolder(folder, SR, offset="random", seed=6).draw(8, 700),
        AudioFolder(folder, SR, offset="random", seed=5).draw(8, 700),
    )
