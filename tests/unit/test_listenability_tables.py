"""Tables and figures of listenability, round trip and robustness from per-sample CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmac.errors import LmacError
from lmac.evaluation.extras import EXTRAS, extra_columns
from lmac.evaluation.metrics import FAITHFULNESS_METRICS
from lmac.reporting import beyond_figures
from lmac.reporting.beyond_figures import FIGURES, write_figure
from lmac.reporting.beyond_tables import WRITERS, write_listenability, write_robustness, write_roundtrip, write_table
from lmac.reporting.clip_stats import read_per_sample, summarise


def frame(method: str, condition: str, base: float, clips: int = 6, seeds=(1, 2)) -> pd.DataFrame:
    rows = []
    for s in seeds:
        for c in range(clips):
            for v in range(2 if condition != "clean" else 1):
                value = base + c + 0.1 * v
                row = {
                    "condition": condition,
                    "method": method,
                    "split": "test",
                    "id": f"clip{c}",
                    "seed": s,
                    "version": v,
                    **{m: value for m in FAITHFULNESS_METRICS},
                    **{m: value for m in extra_columns(EXTRAS)},
                }
                if condition == "clean":
                    row.update(SI_SDR=np.nan, LSD=np.nan, interferer_kept=np.nan, target_kept=np.nan, silent=np.nan)
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def csvs(tmp_path) -> list[str]:
    paths = []
    for method, base in (("lmac", 10.0), ("saliency", 1.0)):
        for condition in ("clean", "mixture"):
            path = tmp_path / f"{condition}_{method}.csv"
            frame(method, condition, base).to_csv(path, index=False)
            paths.append(str(path))
    return paths


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The figures ``write_figure`` saves (PNG and PDF as usual), kept for their matplotlib objects."""
    figures, save = [], beyond_figures.save_figure

    def keep(fig, png, pdf=None):
        figures.append(fig)
        save(fig, png, pdf)

    monkeypatch.setattr(beyond_figures, "save_figure", keep)
    return figures


def assert_png_and_pdf(png, pdf) -> None:
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_summaries_average_each_clip_before_bootstrapping():
    rows = frame("lmac", "mixture", 0.0, clips=4)
    out = summarise(rows, ["AI"], n_boot=200).iloc[0]
    # clip c has rows c and c + 0.1 in both seeds: clip means c + 0.05, their mean 1.55
    assert out["mean"] == pytest.approx(1.55) and out["n_clips"] == 4 and out["n_seeds"] == 2
    assert out["ci_low"] <= out["mean"] <= out["ci_high"]


def test_listenability_table_keeps_conditions_with_a_clean_target(csvs, tmp_path, drawn):
    table = write_listenability(csvs, tmp_path / "l.csv", tmp_path / "l.md", tmp_path / "l.tex", n_boot=200)
    assert set(table["condition"]) == {"mixture"}
    md = (tmp_path / "l.md").read_text()
    assert "Condition: mixture" in md and "clean" not in md.split("###", 1)[1] and "SI_SDR ↑" in md
    assert r"\begin{tabular}" in (tmp_path / "l.tex").read_text()
    fig = FIGURES["listenability"](tmp_path / "l.csv")
    # one panel per score (not the silent share) and condition, labelled with the catalogue's arrows
    assert [ax.get_title() for ax in fig.axes] == [
        "SI_SDR ↑ · mixture",
        "LSD ↓ · mixture",
        "interferer_kept ↓ · mixture",
        "target_kept · mixture",
    ]
    write_figure("listenability", tmp_path / "l.csv", tmp_path / "l.png", tmp_path / "l.pdf")
    assert_png_and_pdf(tmp_path / "l.png", tmp_path / "l.pdf")
    # one panel per score (all but `silent`) of the one condition, a bar per method at the table's mean
    (fig,) = drawn
    written = pd.read_csv(tmp_path / "l.csv")
    scores = ["SI_SDR", "LSD", "interferer_kept", "target_kept"]
    assert len(fig.axes) == len(scores)
    for ax, score in zip(fig.axes, scores):
        assert ax.get_title().startswith(score) and ax.get_title().endswith("· mixture")
        means = written[written["metric"] == score].set_index("method")["mean"]
        assert [bar.get_height() for bar in ax.patches] == pytest.approx([means["lmac"], means["saliency"]])
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["lmac", "saliency"]


def test_roundtrip_table_puts_both_domains_side_by_side(csvs, tmp_path, drawn):
    table = write_roundtrip(csvs, tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "r.tex", n_boot=200)
    assert set(table["domain"]) == {"spectrogram", "heard"} and set(table["metric"]) == set(FAITHFULNESS_METRICS)
    assert "| AI ↑ spec | AI ↑ heard |" in (tmp_path / "r.md").read_text()
    fig = FIGURES["roundtrip"](tmp_path / "r.csv")
    labelled = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in labelled] == [f"{m} on the spectrogram" for m in FAITHFULNESS_METRICS]
    write_figure("roundtrip", tmp_path / "r.csv", tmp_path / "r.png", tmp_path / "r.pdf")
    assert_png_and_pdf(tmp_path / "r.png", tmp_path / "r.pdf")
    # a panel per faithfulness metric, a point per method × condition at (spectrogram mean, heard mean)
    (fig,) = drawn
    written = pd.read_csv(tmp_path / "r.csv")
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_xlabel() for ax in panels] == [f"{m} on the spectrogram" for m in FAITHFULNESS_METRICS]
    for ax, metric in zip(panels, FAITHFULNESS_METRICS):
        means = written[written["metric"] == metric].pivot_table(
            index=["condition", "method"], columns="domain", values="mean"
        )
        expected = np.array(sorted(map(tuple, means[["spectrogram", "heard"]].to_numpy())))
        points = np.array(sorted(tuple(bars.lines[0].get_xydata()[0]) for bars in ax.containers))
        assert points.shape == (4, 2) and points == pytest.approx(expected)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lmac", "saliency", "clean", "mixture"]


def test_robustness_table_has_every_operator_and_the_rank_stability(csvs, tmp_path, drawn):
    table, ranks = write_robustness(
        csvs, tmp_path / "o.csv", tmp_path / "or.csv", tmp_path / "o.md", tmp_path / "o.tex", n_boot=200
    )
    assert set(table["operator"]) == {"zero", "mean", "noise"}
    # lmac scores above saliency under every operator: identical rankings
    assert (ranks["kendall_tau"] == 1).all() and len(ranks) == 2 * len(FAITHFULNESS_METRICS) * 6
    md = (tmp_path / "o.md").read_text()
    assert "Rank stability" in md and "zero vs noise" in md and "Mean (minimum)" in md
    heat = FIGURES["robustness"](tmp_path / "or.csv").axes[0]
    # the mean τ over conditions of every metric and pair: identical rankings everywhere
    assert [t.get_text() for t in heat.texts] == ["1.00"] * (len(FAITHFULNESS_METRICS) * 6)
    assert [t.get_text() for t in heat.get_yticklabels()] == list(FAITHFULNESS_METRICS)
    write_figure("robustness", tmp_path / "or.csv", tmp_path / "o.png", tmp_path / "o.pdf")
    assert_png_and_pdf(tmp_path / "o.png", tmp_path / "o.pdf")
    # a heat map of τ, metrics × pairs of sources: every ranking agrees here, so every cell is 1
    (fig,) = drawn
    heat = fig.axes[0]
    pairs = list(dict.fromkeys(ranks["source_a"] + " vs " + ranks["source_b"]))
    assert [t.get_text() for t in heat.get_yticklabels()] == list(FAITHFULNESS_METRICS)
    assert [t.get_text() for t in heat.get_xticklabels()] == pairs
    assert heat.images[0].get_array().shape == (len(FAITHFULNESS_METRICS), len(pairs))
    assert (heat.images[0].get_array() == 1).all()
    assert [t.get_text() for t in heat.texts] == ["1.00"] * len(FAITHFULNESS_METRICS) * len(pairs)


def test_tables_and_figures_are_chosen_by_their_extra(csvs, tmp_path):
    out = {f"out_{k}": tmp_path / f"t.{k}" for k in ("csv", "md", "tex")}
    write_table("roundtrip", csvs, n_boot=50, **out)
    assert "Round-trip faithfulness" in out["out_md"].read_text()
    assert set(WRITERS) == set(FIGURES) == set(EXTRAS)
    with pytest.raises(LmacError, match="unknown table kind 'mos'"):
        write_table("mos", csvs, **out)
    with pytest.raises(LmacError, match="unknown figure kind 'mos'"):
        write_figure("mos", out["out_csv"], tmp_path / "x.png", tmp_path / "x.pdf")


def test_results_without_the_extras_are_a_one_line_error(tmp_path):
    path = tmp_path / "old.csv"
    frame("lmac", "mixture", 1.0).drop(columns=extra_columns(EXTRAS)).to_csv(path, index=False)
    with pytest.raises(LmacError, match="lacks the column"):
        read_per_sample([str(path)], ["SI_SDR"])
    with pytest.raises(LmacError, match="no such file"):
        read_per_sample([str(tmp_path / "absent.csv")])
