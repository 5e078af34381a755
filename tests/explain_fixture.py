"""Tiny random models and CLI helpers shared by the ``lmac explain`` tests.

A random classifier and explainers stand in for trained ones: windowing, streaming, levels and
errors do not depend on what the models learned.
"""

from __future__ import annotations

from pathlib import Path

from model_fixture import TINY_TD, tiny_classifier

from lmac.cli import main
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import build_lmac_td

CLASSES = ["dog", "rain", "siren"]
RATE = 16000
OUTPUTS = (".explanation.wav", ".masked_out.wav", ".png", ".json")


def make_models(root: Path, clip_seconds: float | None = None) -> dict[str, Path]:
    """A width-1/16 classifier (recording ``clip_seconds`` if given), L-MAC, L-MAC FT and LMAC-TD (α 0.75)."""
    root.mkdir(parents=True, exist_ok=True)
    classifier = tiny_classifier(CLASSES)
    classifier.clip_seconds = clip_seconds
    classifier.save(root / "classifier.pt")
    lmac = LmacExplainer(classifier)
    lmac.save(root / "lmac.pt", meta={"method": "lmac", "finetuned": False})
    lmac.save(root / "lmac_ft.pt", meta={"method": "lmac_ft", "finetuned": True})
    build_lmac_td(classifier, TINY_TD, alpha=0.75).save(root / "lmac_td.pt", meta={"method": "lmac_td_a0.75"})
    return {name: root / f"{name}.pt" for name in ("classifier", "lmac", "lmac_ft", "lmac_td")}


def run_cli(*args) -> int:
    try:
        return main([str(a) for a in args])
    except SystemExit as exit_:  # lmac.errors.fail
        return int(exit_.code)


def assert_one_line_error(code: int, capsys, *needles) -> str:
    captured = capsys.readouterr()
    report = f"exit {code}\n--- stdout ---\n{captured.out}\n--- stderr ---\n{captured.err}"
    assert code == 2, report
    assert "Traceback" not in captured.err + captured.out, report
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lmac: error: "), report
    for needle in needles:
        assert str(needle) in lines[0], report
    return lines[0]
