"""Test helpers: a tiny ESC-50-layout dataset, its zip, the loopback HTTP file server, tiny prepared data.

Tests must never touch the network, so downloads are exercised against ``serve_files`` on
127.0.0.1 (an ephemeral port; :mod:`lmac.smoke.loopback`, which can misbehave on purpose -- 503
answers, bodies cut short, no Range support -- to test retry and resume). The dataset builders are
``make smoke-paper``'s (:mod:`lmac.smoke.standins`). pyproject's pytest ``pythonpath`` makes this
importable as a top-level module.
"""

from __future__ import annotations

from pathlib import Path

from lmac.data.download import sha256_file
from lmac.smoke.loopback import ServerStats, serve_files  # noqa: F401 (the tests' server, from here)
from lmac.smoke.standins import make_esc50_folder, zip_folder  # noqa: F401 (the tests' builders, from here)


def sha256_of(path) -> str:
    return sha256_file(path)


def make_esc50_zip(tmpdir, **kw) -> tuple[Path, str]:
    """Build a tiny ESC-50 folder under ``tmpdir/src`` and zip it like GitHub's archive.

    Returns ``(zip_path, sha256)``; keyword arguments go to ``make_esc50_folder``.
    """
    tmpdir = Path(tmpdir)
    kw.setdefault("top", "ESC-50-master")
    folder = make_esc50_folder(tmpdir / "src", **kw)
    zip_path = zip_folder(folder, tmpdir / "master.zip", arcroot=kw["top"] or "")
    return zip_path, sha256_of(zip_path)


TINY_SR = 16000
TINY_SYNTH = {
    "n_classes": 3,
    "clips_per_class": 5,
    "n_folds": 5,
    "clip_seconds": 1.0,
    "sample_rate": TINY_SR,
    "event_seconds": [0.2, 0.5],
    "event_snr_db": [0, 10],
    "n_distractors": [0, 1],
    "distractor_snr_db": [-5, 5],
}


def make_tiny_prepared(root: Path) -> dict[str, str]:
    """15 one-second clips (3 classes, folds 1-3 train / 4 valid / 5 test), prepared, plus a random-weight
    width-1/16 classifier (``classifier.pt``, seed 0) and an L-MAC explainer for it (``lmac.pt``)."""
    from model_fixture import tiny_classifier

    from lmac.data.prepare import prepare_dataset
    from lmac.data.synthetic import generate_synthetic_dataset
    from lmac.explainers.lmac import LmacExplainer
    from lmac.frontend import FrontEndConfig

    generate_synthetic_dataset(root / "raw", TINY_SYNTH, FrontEndConfig(sample_rate=TINY_SR), seed=3)
    prepare_dataset(
        root / "raw",
        root / "prepared",
        sample_rate=TINY_SR,
        clip_seconds=1.0,
        splits={"train": [1, 2, 3], "valid": [4], "test": [5]},
    )
    classifier = tiny_classifier()
    classifier.save(root / "classifier.pt")
    LmacExplainer(classifier).save(root / "lmac.pt")
    return {
        "root": str(root),
        "raw": str(root / "raw"),
        "prepared": str(root / "prepared"),
        "classifier": str(root / "classifier.pt"),
        "lmac": str(root / "lmac.pt"),
        "events": str(root / "raw" / "meta" / "ground_truth_masks.npz"),
    }


TINY_CONFIG = Path(__file__).resolve().parent / "workflow" / "tiny.yaml"


def write_config(path: Path, **changes) -> Path:
    """tests/workflow/tiny.yaml with dotted ``section.key=value`` changes (``**{"classifier.epochs": 1}``)."""
    import yaml

    config = yaml.safe_load(TINY_CONFIG.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
