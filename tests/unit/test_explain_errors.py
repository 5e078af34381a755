"""Every way ``lmac explain`` can fail ends in one line on stderr and exit status 2, with nothing written;
a truncated WAV is explained with a warning; what a killed run leaves behind is cleaned up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from explain_fixture import OUTPUTS, RATE, assert_one_line_error, make_models, run_cli  # noqa: E402

import lmac.explain_input
import lmac.explain_output

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    return make_models(tmp_path_factory.mktemp("models"), clip_seconds=2.0)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "good.wav"
    sf.write(path, (0.3 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32), RATE)
    return path


def explain(models: dict, *args) -> int:
    return run_cli(
        "explain", *args, "--classifier", models["classifier"], "--explainer", models["lmac"], "--device", "cpu"
    )


# --------------------------------------------------------------------------------------------
# the output folder is checked before anything is computed


@pytest.mark.skipif(
    not os.path.isdir("/sys") or os.access("/sys", os.W_OK) and not IS_ROOT, reason="needs a read-only /sys (Linux)"
)
def test_output_folder_on_a_read_only_file_system(models, good, capsys):
    if Path("/sys/lmac-out").exists():
        pytest.skip("/sys/lmac-out exists")
    capsys.readouterr()
    assert_one_line_error(
        explain(models, good, "-o", "/sys/lmac-out/x"),
        capsys,
        "/sys/lmac-out/x: not writable",
        "(/sys is the nearest existing folder)",
    )


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only folder")
def test_output_folder_without_write_permission(models, good, tmp_path, capsys):
    (tmp_path / "locked").mkdir(mode=0o555)
    capsys.readouterr()
    assert_one_line_error(
        explain(models, good, "-o", tmp_path / "locked" / "out"), capsys, "not writable: permission denied"
    )
    assert list((tmp_path / "locked").iterdir()) == []


def test_output_folder_probe_failure_is_one_line(models, good, tmp_path, capsys, monkeypatch):
    """Whatever refuses the probe file (permissions, quota, a full disk), the run stops before computing."""
    import lmac.explain

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lmac.explain.tempfile, "mkstemp", refuse)
    capsys.readouterr()
    assert_one_line_error(
        explain(models, good, "-o", tmp_path / "out"),
        capsys,
        f"{tmp_path / 'out'}: not writable: no space left on device",
    )
    assert not (tmp_path / "out").exists()


def test_output_below_an_existing_file(models, good, tmp_path, capsys):
    (tmp_path / "somefile.txt").write_text("notes\n")
    capsys.readouterr()
    assert_one_line_error(
        explain(models, good, "-o", tmp_path / "somefile.txt" / "out"),
        capsys,
        f"{tmp_path / 'somefile.txt' / 'out'}: cannot be created: {tmp_path / 'somefile.txt'} is a file, not a folder",
    )


@pytest.mark.parametrize("device", ["foo", "cuda:99", "cpu:x"])
def test_bad_device(models, good, tmp_path, capsys, device):
    capsys.readouterr()
    code = run_cli(
        "explain",
        good,
        "-o",
        tmp_path / "out",
        "--classifier",
        models["classifier"],
        "--explainer",
        models["lmac"],
        "--device",
        device,
    )
    assert_one_line_error(code, capsys, device)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--window", "0"], "--window: must be a positive number of seconds"),
        (["--hop", "-1"], "--hop: must be a positive number of seconds"),
        (["--hop", "3"], "--hop: 3 s must be positive and at most the window (2 s)"),
        (["--window", "0.1"], "--window: 0.1 s is 1600 samples; the classifier needs at least 5766"),
        (["--whole-file", "--hop", "1"], "--whole-file explains each input as one clip"),
    ],
)
def test_bad_window_options(models, good, tmp_path, capsys, args, phrase):
    capsys.readouterr()
    assert_one_line_error(explain(models, good, "-o", tmp_path / "out", *args), capsys, phrase)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# inputs


def test_permission_denied_says_so(models, good, tmp_path, capsys, monkeypatch):
    """libsndfile calls an unreadable file a "System error."; lmac names the cause. (Root reads
    everything, so the denial is simulated where the module opens the file.)"""
    locked = tmp_path / "locked.wav"
    locked.write_bytes(good.read_bytes())
    real_open = open

    def deny(path, *args, **kwargs):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(lmac.explain_input, "open", deny, raising=False)
    capsys.readouterr()
    line = assert_one_line_error(
        explain(models, good, locked, "-o", tmp_path / "out"), capsys, f"{locked}: permission denied"
    )
    assert "System error" not in line
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their permissions")
def test_permission_denied_for_real(models, good, tmp_path, capsys):
    locked = tmp_path / "locked.wav"
    locked.write_bytes(good.read_bytes())
    locked.chmod(0)
    capsys.readouterr()
    assert_one_line_error(explain(models, locked, "-o", tmp_path / "out"), capsys, f"{locked}: permission denied")


def test_nan_late_in_a_long_file_fails_before_any_output(models, good, tmp_path, capsys):
    """The check streams the whole file, so a bad sample at minute 3 stops the run before the first output."""
    data = (0.1 * np.random.default_rng(1).standard_normal(180 * RATE + 500)).astype(np.float32)
    data[-100] = np.inf
    sf.write(tmp_path / "long.wav", data, RATE, subtype="FLOAT")
    capsys.readouterr()
    assert_one_line_error(
        explain(models, good, tmp_path / "long.wav", "-o", tmp_path / "out"),
        capsys,
        f"{tmp_path / 'long.wav'}: 1 of {data.size} samples are NaN or infinite",
    )
    assert not (tmp_path / "out").exists()


def test_truncated_wav_is_explained_with_a_warning(models, tmp_path, capsys):
    data = (0.2 * np.random.default_rng(2).standard_normal(3 * RATE)).astype(np.float32)
    sf.write(tmp_path / "full.wav", data, RATE, subtype="FLOAT")
    raw = (tmp_path / "full.wav").read_bytes()
    header = raw.index(b"data") + 8
    kept = header + 4 * 40000  # 40 000 of 48 000 frames
    (tmp_path / "cut.wav").write_bytes(raw[:kept])
    capsys.readouterr()
    assert explain(models, tmp_path / "cut.wav", "-o", tmp_path / "out") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, warnings
    assert f"{tmp_path / 'cut.wav'}: truncated WAV" in warnings[0]
    for number in ("48000 frames", "192000-byte data chunk", "160000 of those bytes", "40000 frames present"):
        assert number in warnings[0], warnings[0]
    assert sf.info(tmp_path / "out" / "cut.explanation.wav").frames == 40000
    record = json.loads((tmp_path / "out" / "cut.json").read_text())
    assert record["source"]["samples"] == 40000
    assert len(record["warnings"]) == 1 and warnings[0].endswith(record["warnings"][0])


def test_a_write_failure_mid_run_is_one_line_and_leaves_no_partial_output(models, good, tmp_path, capsys, monkeypatch):
    """A disk that fills up after the first window: one line, and the partial file's folder is gone."""
    sf.write(tmp_path / "five.wav", (0.1 * np.random.default_rng(4).standard_normal(5 * RATE)).astype(np.float32), RATE)
    real_open_wav, writes = lmac.explain_output.open_wav, []

    class FillsUp:
        def __init__(self, path, *args, **kwargs):
            self.path, self.handle = Path(path), real_open_wav(path, *args, **kwargs)

        def write(self, data):
            if self.path.name.startswith("five") and any(p == self.path for p, _ in writes):
                raise OSError(28, "No space left on device")
            writes.append((self.path, len(data)))
            self.handle.write(data)

        def close(self):
            self.handle.close()

    monkeypatch.setattr(lmac.explain_output, "open_wav", FillsUp)
    capsys.readouterr()
    code = explain(models, good, tmp_path / "five.wav", "-o", tmp_path / "out")
    err = capsys.readouterr().err
    # the progress of the file before it was logged; then one line says what failed, no traceback
    errors = [line for line in err.splitlines() if line.startswith("lmac: error: ")]
    assert code == 2 and "Traceback" not in err and errors == [err.strip().splitlines()[-1]], err
    assert errors[0] == (
        f"lmac: error: {tmp_path / 'five.wav'}: its outputs could not be written to "
        f"{tmp_path / 'out'} ([Errno 28] No space left on device)"
    )
    assert [n for p, n in writes if p.name.startswith("five")] == [2 * RATE] * 2  # window 1 of both WAVs
    # the first file is complete; nothing of the second is left, not even its temporary folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"good{s}" for s in OUTPUTS)


# --------------------------------------------------------------------------------------------
# what a killed run leaves behind


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(models, good, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, (0.1 * np.random.default_rng(3).standard_normal(600 * RATE)).astype(np.float32), RATE)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmac.cli",
            "explain",
            str(long),
            "-o",
            str(out),
            "--classifier",
            str(models["classifier"]),
            "--explainer",
            str(models["lmac"]),
            "--device",
            "cpu",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".long.lmac-explain-*/long.explanation.wav")) and time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before it could be killed"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = list(out.glob(".long.*"))
    assert len(left) == 1 and str(child.pid) in left[0].name  # what the issue is about
    someone_elses = out / ".notes.lmac-explain-otherhost-12-abcd1234"  # another machine's live run
    someone_elses.mkdir()
    assert explain(models, good, "-o", out) == 0
    assert not left[0].exists()
    assert someone_elses.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([someone_elses.name, *(f"good{s}" for s in OUTPUTS)])
