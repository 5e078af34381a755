"""benchmarks/render_docs.py: the measured tables in the docs are the ones the benchmark records give."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("render_docs", REPO / "benchmarks" / "render_docs.py")
render_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_docs)


def test_every_generated_block_is_up_to_date():
    """Rendering from the committed records changes nothing: nobody edited a measured number by hand."""
    stale = [name for name, text in render_docs.render(REPO).items() if (REPO / name).read_text() != text]
    assert not stale, f"rerun .venv/bin/python benchmarks/render_docs.py: {', '.join(stale)} differ from the records"


def test_every_generated_block_has_a_renderer():
    """A block in the docs that BLOCKS does not list would silently stop being regenerated."""
    declared = {(name, block) for name, block, _ in render_docs.BLOCKS}
    docs = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    found = {(str(p.relative_to(REPO)), b) for p in docs for b in render_docs.generated_blocks(p.read_text())}
    assert found == declared


def test_render_writes_the_records_into_their_blocks(tmp_path):
    for name in {name for name, _, _ in render_docs.BLOCKS}:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "benchmarks").mkdir()
    bench = json.loads((REPO / "benchmarks" / "embedded_default.json").read_text())
    bench["wall_seconds"] = 1234.0
    (tmp_path / "benchmarks" / "embedded_default.json").write_text(json.dumps(bench))
    texts = render_docs.render(tmp_path)
    assert "**20.6 min (1234 s)**" in texts["README.md"]
    assert "**20.6 min (1234 s)**" in texts["docs/embedded_default.md"]
    # without convergence.json the convergence page is left as it is
    assert texts["docs/convergence.md"] == (REPO / "docs" / "convergence.md").read_text()


def test_a_missing_block_is_an_error():
    with pytest.raises(SystemExit, match="README.md: no <!-- generated:nowhere:begin -->"):
        render_docs.replace_block("no markers here", "nowhere", "x", "README.md")


def test_the_gpu_budget_tables_come_from_its_record(tmp_path):
    for name in {name for name, _, _ in render_docs.BLOCKS}:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(REPO / "benchmarks" / "embedded_default.json", tmp_path / "benchmarks")
    budget = json.loads((REPO / "benchmarks" / "gpu_budget.json").read_text())
    budget["rules"][0]["tflop"] = 123456.0
    budget["subsets"]["one seed, L-MAC only (all)"]["gpu_hours"]["A100"]["fp32"] = 42.3
    budget["measured"] = {
        "train/lmac": {"cpu (2 threads)": {"samples_per_call": 16, "seconds_per_call": 80.0, "samples_per_s": 0.2,
                                           "peak_rss_mb": 9216, "cuda_peak_mb": None, "date": "2026-12-06"}}
    }  # fmt: skip
    (tmp_path / "benchmarks" / "gpu_budget.json").write_text(json.dumps(budget))
    texts = render_docs.render(tmp_path)
    assert "**42.3 A100 hours**" in texts["README.md"]
    doc = texts["docs/reproducing_the_papers.md"]
    # 123 456 TFLOP at 20 % of the A100's 19.5 TFLOP/s in fp32
    assert f"| `{budget['rules'][0]['rule']}` | all | 1 | 7,600 | 123.5 |" in doc
    assert f"{123456 / (19.5 * 0.2) / 3600:,.1f} |" in doc
    lmac_row = next(line for line in doc.splitlines() if line.startswith("| `train_lmac` |"))
    assert "9.0 GiB" in lmac_row  # its measured step
    assert "| `train/lmac` | cpu (2 threads) | 16 | 80.0 | 0.20 | 9.0 GiB | – | 2026-12-06 |" in doc
    # without gpu_budget.json both blocks are left as they are
    (tmp_path / "benchmarks" / "gpu_budget.json").unlink()
    assert render_docs.render(tmp_path)["README.md"] == (REPO / "README.md").read_text()
