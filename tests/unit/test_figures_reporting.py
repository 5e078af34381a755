"""Report figures and the HTML table, on small synthetic tables, histories and explanation files.

Figures are checked through the matplotlib objects (panels, titles, bar heights, line data), not
pixels; the written files through their signatures.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from lmac.errors import LmacError
from lmac.evaluation.localisation import LOCALISATION_METRICS
from lmac.evaluation.metrics import METRICS
from lmac.frontend import FrontEnd, FrontEndConfig
from lmac.reporting.alpha_ablation import alpha_ablation_figure, td_alphas, write_alpha_ablation
from lmac.reporting.example_panels import COLUMNS, example_panels_figure, write_example_panels
from lmac.reporting.html_table import write_html_table
from lmac.reporting.metric_bars import metric_bars_figure, write_metric_bars
from lmac.reporting.tables import aggregate
from lmac.reporting.training_curves import panels, training_curves_figure, write_training_curves

METHODS = ["lmac", "lmac_td_a1", "lmac_td_a0", "saliency"]
CONDITIONS = ["clean", "mixture"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def per_sample(seed: int = 0, n: int = 12) -> pd.DataFrame:
    """Per-clip scores in the evaluation CSV layout; localisation undefined (NaN) on mixtures."""
    rng = np.random.default_rng(seed)
    rows = []
    for condition in CONDITIONS:
        for k, method in enumerate(METHODS):
            for i in range(n):
                row = {
                    "id": f"clip{i}",
                    "version": 0,
                    "condition": condition,
                    "method": method,
                    "split": "test",
                    "correct": True,
                    "explain_s": 0.01,
                }
                row.update({m: 10 * k + rng.random() for m in METRICS})
                row.update({m: np.nan if condition == "mixture" else rng.random() for m in LOCALISATION_METRICS})
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return aggregate(per_sample(), n_boot=200)


@pytest.fixture
def table_csv(tmp_path, table) -> Path:
    path = tmp_path / "metrics.csv"
    table.to_csv(path, index=False)
    return path


def assert_png_and_pdf(png: Path, pdf: Path) -> None:
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000
    # written atomically: no temporary sibling left behind
    assert sorted(p.name for p in png.parent.iterdir() if p.name.startswith(".")) == []


# ------------------------------------------------------------------------------ metric bars


def test_faithfulness_bars_one_panel_per_metric_and_condition(table):
    fig = metric_bars_figure(table, METRICS)
    axes = fig.axes
    assert len(axes) == len(METRICS) * len(CONDITIONS)
    titles = [ax.get_title() for ax in axes]
    assert titles[:2] == ["AI ↑ · clean", "AI ↑ · mixture"]
    assert "AD ↓ · mixture" in titles and "COMP ↓ · clean" in titles and "MM · clean" in titles
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == METHODS


def test_bar_heights_and_error_bars_are_the_tables(table):
    fig = metric_bars_figure(table, ["FF"])
    ax = next(ax for ax in fig.axes if ax.get_title() == "FF ↑ · mixture")
    cells = table[(table["metric"] == "FF") & (table["condition"] == "mixture")].set_index("method").loc[METHODS]
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], cells["mean"], rtol=1e-6)
    # the error bar segments span the bootstrap CI of each bar
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[:, 1].min() for s in segments], cells["ci_low"], rtol=1e-6)
    np.testing.assert_allclose([s[:, 1].max() for s in segments], cells["ci_high"], rtol=1e-6)
    assert (cells["ci_low"] < cells["mean"]).all() and (cells["mean"] < cells["ci_high"]).all()


def test_localisation_bars_say_na_where_undefined(table):
    fig = metric_bars_figure(table, LOCALISATION_METRICS)
    assert len(fig.axes) == len(LOCALISATION_METRICS) * len(CONDITIONS)
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.texts]
        if ax.get_title().endswith("mixture"):
            assert texts == ["n/a"] and not ax.patches
        else:
            assert texts == [] and len(ax.patches) == len(METHODS)


def test_write_metric_bars_writes_png_and_pdf(tmp_path, table_csv):
    for kind in ("faithfulness", "localisation"):
        png, pdf = tmp_path / "fig" / f"{kind}.png", tmp_path / "fig" / f"{kind}.pdf"
        write_metric_bars(table_csv, kind, png, pdf)
        assert_png_and_pdf(png, pdf)


def test_missing_column_is_a_one_line_error(tmp_path, table):
    path = tmp_path / "metrics.csv"
    table.drop(columns="ci_high").to_csv(path, index=False)
    with pytest.raises(LmacError) as err:
        write_metric_bars(path, "faithfulness", tmp_path / "f.png", tmp_path / "f.pdf")
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "ci_high" in message
    assert not (tmp_path / "f.png").exists()
    with pytest.raises(LmacError, match="no such file"):
        write_metric_bars(tmp_path / "absent.csv", "faithfulness", tmp_path / "f.png")
    with pytest.raises(LmacError, match="unknown metric figure 'speed'"):
        write_metric_bars(path, "speed", tmp_path / "f.png")


# ------------------------------------------------------------------------------ α ablation


def test_td_alphas_parses_and_sorts_lmac_td_names():
    assert td_alphas(["lmac", "lmac_td_a1", "lmac_td_a0.75", "saliency", "lmac_td_a0"]) == {
        "lmac_td_a0": 0.0,
        "lmac_td_a0.75": 0.75,
        "lmac_td_a1": 1.0,
    }


def test_alpha_ablation_lines_and_lmac_reference(table):
    fig = alpha_ablation_figure(table, metrics=["AI", "FF", "RMA"])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["AI ↑", "FF ↑", "RMA ↑"]
    ax = visible[1]
    # LMAC-TD: error bar containers (their data line first); L-MAC: horizontal lines
    lines = {c.get_label(): c.lines[0] for c in ax.containers}
    lines.update({line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")})
    assert set(lines) == {f"{who} · {c}" for who in ("LMAC-TD", "L-MAC") for c in CONDITIONS}
    td = lines["LMAC-TD · clean"]
    np.testing.assert_allclose(td.get_xdata(), [0.0, 1.0])
    means = table[(table["metric"] == "FF") & (table["condition"] == "clean")].set_index("method")["mean"]
    np.testing.assert_allclose(td.get_ydata(), means.loc[["lmac_td_a0", "lmac_td_a1"]], rtol=1e-6)
    np.testing.assert_allclose(lines["L-MAC · clean"].get_ydata(), [means["lmac"]] * 2, rtol=1e-6)
    # no localisation ground truth on mixtures: RMA has a clean line only
    rma = {c.get_label() for c in visible[2].containers}
    rma |= {line.get_label() for line in visible[2].get_lines() if not line.get_label().startswith("_")}
    assert rma == {"LMAC-TD · clean", "L-MAC · clean"}


def test_alpha_ablation_needs_lmac_td(tmp_path, table):
    path = tmp_path / "metrics.csv"
    table[~table["method"].str.startswith("lmac_td")].to_csv(path, index=False)
    with pytest.raises(LmacError, match="no LMAC-TD method"):
        write_alpha_ablation(path, tmp_path / "a.png", tmp_path / "a.pdf")


def test_write_alpha_ablation(tmp_path, table_csv):
    write_alpha_ablation(table_csv, tmp_path / "a.png", tmp_path / "a.pdf")
    assert_png_and_pdf(tmp_path / "a.png", tmp_path / "a.pdf")


# ------------------------------------------------------------------------------ training curves

CLASSIFIER_HISTORY = ["epoch", "train_loss", "lr", "valid_loss", "valid_acc", "seconds"]
LMAC_HISTORY = ["epoch", "train_loss", "lr", "valid_loss", "valid_ce_in", "valid_fid_in", "train_fid_in", "seconds"]


def history(columns: list[str], epochs: int = 4, offset: float = 0.0) -> pd.DataFrame:
    data = {c: np.linspace(1, 0.5, epochs) + offset for c in columns}
    data["epoch"] = np.arange(1, epochs + 1)
    data["lr"] = np.full(epochs, 1e-3)
    return pd.DataFrame(data)


def test_history_columns_group_into_panels():
    assert panels(CLASSIFIER_HISTORY) == {"loss": ["train_loss", "valid_loss"], "acc": ["valid_acc"], "lr": ["lr"]}
    assert list(panels(LMAC_HISTORY)) == ["loss", "ce_in", "fid_in", "lr"]
    assert panels(LMAC_HISTORY)["fid_in"] == ["valid_fid_in", "train_fid_in"]


def test_training_curves_one_line_per_run_and_phase():
    runs = {"seed 1": history(LMAC_HISTORY), "seed 2": history(LMAC_HISTORY, offset=0.1)}
    fig = training_curves_figure(runs, "lmac")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "ce_in", "fid_in", "lr"]
    loss = visible[0]
    assert sorted(line.get_label() for line in loss.get_lines()) == [
        "seed 1 · train",
        "seed 1 · valid",
        "seed 2 · train",
        "seed 2 · valid",
    ]
    valid = next(line for line in loss.get_lines() if line.get_label() == "seed 2 · valid")
    np.testing.assert_allclose(valid.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(valid.get_ydata(), runs["seed 2"]["valid_loss"])
    assert visible[-1].get_yscale() == "log"
    assert "lmac" in fig._suptitle.get_text()


def test_write_training_curves(tmp_path):
    path = tmp_path / "history.csv"
    history(CLASSIFIER_HISTORY).to_csv(path, index=False)
    write_training_curves({"seed 1234": path}, "classifier", tmp_path / "c.png", tmp_path / "c.pdf")
    assert_png_and_pdf(tmp_path / "c.png", tmp_path / "c.pdf")


def test_history_without_epoch_is_a_one_line_error(tmp_path):
    path = tmp_path / "history.csv"
    history(CLASSIFIER_HISTORY).drop(columns="epoch").to_csv(path, index=False)
    with pytest.raises(LmacError) as err:
        write_training_curves({"seed 1": path}, "classifier", tmp_path / "c.png")
    assert "\n" not in str(err.value) and str(path) in str(err.value) and "epoch" in str(err.value)


# ------------------------------------------------------------------------------ example panels

FRONTEND = {"n_fft": 256, "hop_ms": 16.0, "win_ms": 32.0, "n_mels": 40}
SR = 8000


def explanations(tmp_path: Path, method: str, ids: list[str], level: float) -> Path:
    """An explanation file as evaluation writes it; the mask of every clip is ``level``."""
    fe = FrontEnd(FrontEndConfig.from_dict({**FRONTEND, "sample_rate": SR}))
    rng = np.random.default_rng(len(method))
    # every clip's waveform is derived from its id, so the same clip is the same input for every method
    wav = np.stack([np.random.default_rng(int(i[4:])).standard_normal(SR // 2).astype(np.float32) * 0.1 for i in ids])
    logspec = fe.log_spectrogram(torch.from_numpy(wav)).numpy()
    mask = np.full_like(logspec, level)
    path = tmp_path / f"{method}.npz"
    np.savez(
        path,
        ids=np.array(ids),
        sample_rate=np.array(SR),
        mask=mask.astype(np.float16),
        logspec=logspec.astype(np.float16),
        waveform=wav * level,
        input=wav,
        target=wav,
        unused=rng.random(3),
    )
    return path


def test_example_panels_same_clip_for_every_method(tmp_path):
    files = {
        "lmac": explanations(tmp_path, "lmac", ["clip1", "clip2", "clip3"], 0.5),
        "saliency": explanations(tmp_path, "saliency", ["clip9", "clip2", "clip1"], 0.25),
    }
    loaded = {m: dict(np.load(p)) for m, p in files.items()}
    fig = example_panels_figure(loaded, 2, FRONTEND, "clean")
    assert len(fig.axes) == 2 * len(COLUMNS)
    assert [ax.get_title() for ax in fig.axes[:4]] == [f"lmac: {c}" for c in COLUMNS]
    assert fig.axes[4].get_title() == "saliency: input log1p|X|"
    # example 2 among the shared clips (clip1, clip2 in lmac's order) is clip2, for both rows
    assert "clip clip2" in fig._suptitle.get_text() and "clean" in fig._suptitle.get_text()
    for row, method in enumerate(files):
        i = list(loaded[method]["ids"]).index("clip2")
        spec = loaded[method]["logspec"][i].astype(np.float32)
        shown = [np.asarray(ax.get_images()[0].get_array()) for ax in fig.axes[4 * row : 4 * row + 4]]
        np.testing.assert_allclose(shown[0], spec.T, rtol=1e-6)
        np.testing.assert_allclose(shown[1], loaded[method]["mask"][i].astype(np.float32).T)
        np.testing.assert_allclose(shown[2], (loaded[method]["mask"][i].astype(np.float32) * spec).T, rtol=1e-6)
        # the listenable explanation re-analysed: a quieter waveform, a darker spectrogram than the input
        assert shown[3].mean() < shown[0].mean()
    np.testing.assert_allclose(
        np.asarray(fig.axes[0].get_images()[0].get_array()),
        np.asarray(fig.axes[4].get_images()[0].get_array()),
        rtol=1e-6,
    )


def test_write_example_panels_and_errors(tmp_path):
    files = {
        "lmac": explanations(tmp_path, "lmac", ["clip1", "clip2"], 0.5),
        "all_ones": explanations(tmp_path, "all_ones", ["clip1", "clip2"], 1.0),
    }
    write_example_panels(files, 1, tmp_path / "fig" / "e.png", tmp_path / "fig" / "e.pdf", FRONTEND, "mixture")
    assert_png_and_pdf(tmp_path / "fig" / "e.png", tmp_path / "fig" / "e.pdf")
    with pytest.raises(LmacError, match="example 3 requested, but .* share 2 example clip"):
        write_example_panels(files, 3, tmp_path / "e.png", frontend=FRONTEND)
    broken = tmp_path / "broken.npz"
    np.savez(broken, ids=np.array(["clip1"]), sample_rate=np.array(SR))
    with pytest.raises(LmacError) as err:
        write_example_panels({"lmac": broken}, 1, tmp_path / "e.png", frontend=FRONTEND)
    assert "\n" not in str(err.value) and str(broken) in str(err.value) and "mask" in str(err.value)


# ------------------------------------------------------------------------------ HTML table


def test_html_table_has_every_condition_method_and_metric(tmp_path, table_csv, table):
    out = tmp_path / "metrics.html"
    write_html_table(table_csv, out, accuracy=0.875)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<table") == len(CONDITIONS)
    for condition in CONDITIONS:
        assert f"Condition: {condition}" in text
    for method in METHODS:
        assert text.count(f"<th>{method}</th>") == len(CONDITIONS), method
    for label in ("AI ↑", "AD ↓", "COMP ↓", "IoU ↑", ">MM<"):
        assert label in text, label
    cell = table[(table["condition"] == "clean") & (table["method"] == "lmac") & (table["metric"] == "AI")].iloc[0]
    assert f"{cell['mean']:.3f} [{cell['ci_low']:.3f}, {cell['ci_high']:.3f}]" in text
    assert "Classifier test accuracy (clean test clips): 87.5 %" in text
