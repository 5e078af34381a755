"""What `make dvc-track` hands to DVC, and what `make restore` decides to rebuild (the round trip itself:
tests/workflow/test_dvc_roundtrip.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from lmac.errors import LmacError
from lmac.versioning import missing_rebuildable, track, tracked_paths


def make_tree(root, paths):
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_results_are_tracked_but_not_work_state_or_restricted_data(tmp_path):
    make_tree(
        tmp_path,
        [
            "results/embedded/classifier/model.pt",
            "results/embedded/explainers/lmac/seed1/model.pt",
            "results/embedded/tables/metrics.json",
            "results/embedded/provenance.json",
            "results/embedded/sanity/a.csv",
            "results/embedded/work/classifier/ckpt.pt",
            "results/README.md",
            "results/embedded/tables.dvc",
            "results/embedded/data/synthetic/audio.npy",
            "results/embedded/data/esc50/audio.npy",
            "resources/synthetic/1a2b/meta/x.csv",
            "resources/synthetic/1a2b.provenance.json",
            "resources/esc50/audio/1.wav",
            "resources/archives/esc50.zip",
            "resources/wham/tr/a.wav",
        ],
    )
    assert tracked_paths(tmp_path) == [
        "results/embedded/classifier",
        "results/embedded/explainers",
        "results/embedded/provenance.json",
        "results/embedded/sanity",
        "results/embedded/tables",
        "results/embedded/data/synthetic",
        "resources/synthetic",
    ]


def test_every_run_folder_is_tracked(tmp_path):
    make_tree(
        tmp_path,
        [
            "results/embedded/tables/metrics.json",
            "results/paper/tables/metrics.json",
            "results/paper/data/esc50/audio.npy",
            "results/.hidden/x",
        ],
    )
    assert tracked_paths(tmp_path) == ["results/embedded/tables", "results/paper/tables"]


def test_an_esc50_run_tracks_no_audio(tmp_path):
    make_tree(
        tmp_path, ["results/paper/classifier/model.pt", "results/paper/data/esc50/audio.npy", "resources/esc50/a.wav"]
    )
    assert tracked_paths(tmp_path) == ["results/paper/classifier"]


def test_nothing_to_track_is_a_one_line_error(tmp_path):
    with pytest.raises(LmacError, match="nothing to track"):
        track(tmp_path)


SUMMARY = (
    "\t".join(["output_file", "date", "rule", "log-file(s)", "status", "plan"])
    + "\n"
    + "\n".join(
        "\t".join(row)
        for row in [
            ["results/paper/tables/metrics.csv", "-", "metrics_table", "-", "missing", "update pending"],
            ["results/paper/data/esc50/audio.npy", "-", "prepare_dataset", "-", "missing", "update pending"],
            ["resources/esc50", "-", "download_esc50", "-", "missing", "update pending"],
            ["resources/wham", "Tue Nov 24 10:00:00 2026", "download_wham", "-", "ok", "no update"],
            ["results/paper/classifier/model.pt", "-", "train_classifier", "-", "missing", "update pending"],
            ["results/data/x.npy", "-", "train_classifier", "-", "missing", "update pending"],
        ]
    )
)


def test_restore_rebuilds_only_missing_downloads_and_prepared_data():
    assert missing_rebuildable(SUMMARY) == ["results/paper/data/esc50/audio.npy", "resources/esc50"]
    assert missing_rebuildable("output_file\tdate\trule\tlog-file(s)\tstatus\tplan\n") == []


def test_restore_without_a_remote_fails_in_one_line(tmp_path):
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(tmp_path / "g"),
        "DVC_SYSTEM_CONFIG_DIR": str(tmp_path / "s"),
        "DVC_SITE_CACHE_DIR": str(tmp_path / "c"),
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
    make_tree(repo, ["results/classifier/model.pt"])
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "results/classifier"], cwd=repo, env=env, check=True)
    shutil.rmtree(repo / ".dvc" / "cache")  # as in a fresh clone: the data is only on a remote, and none is set
    shutil.rmtree(repo / "results" / "classifier")
    proc = subprocess.run(
        [sys.executable, "-m", "lmac.versioning", "restore"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lmac: error: `dvc pull` failed") and "Traceback" not in proc.stderr
