"""Sanity-check summaries: group means with bootstrap CIs, not-applicable rows, table files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmac.errors import LmacError
from lmac.sanity import figures
from lmac.sanity.summary import CASCADING_KEYS, RANDOM_LOGIT_KEYS, summarise, write_summary


def _cascading_rows() -> pd.DataFrame:
    rows = []
    for seed in (1, 2):
        for step, value in ((0, 1.0), (1, 0.5)):
            for clip in range(4):
                rows.append(
                    {
                        "method": "m",
                        "seed": seed,
                        "decoder": "fixed",
                        "step": step,
                        "block": "none" if step == 0 else "head",
                        "id": f"c{clip}",
                        "spearman": value + 0.01 * clip,
                        "ssim": value,
                    }
                )
    return pd.DataFrame(rows)


def test_summary_pools_clips_of_every_seed():
    summary = summarise(_cascading_rows(), CASCADING_KEYS, n_boot=200)
    assert list(summary["step"]) == [0, 1]
    first = summary.iloc[0]
    assert first["n"] == 8 and first["n_seeds"] == 2
    assert first["spearman_mean"] == pytest.approx(1.015)
    assert first["spearman_ci_low"] <= first["spearman_mean"] <= first["spearman_ci_high"]
    # a constant score has a zero-width interval
    assert first["ssim_ci_low"] == first["ssim_ci_high"] == first["ssim_mean"] == 1.0


def test_not_applicable_rows_keep_nan_and_their_note():
    rows = pd.DataFrame(
        {
            "method": ["lmac"] * 3 + ["saliency"] * 3,
            "seed": 1,
            "decoder": ["fixed"] * 3 + ["none"] * 3,
            "id": list("abcabc"),
            "spearman": [np.nan] * 3 + [0.1, 0.2, 0.3],
            "ssim": [np.nan] * 3 + [0.0, 0.1, 0.2],
            "note": ["not applicable: no class"] * 3 + [""] * 3,
        }
    )
    summary = summarise(rows, RANDOM_LOGIT_KEYS, n_boot=200).set_index("method")
    assert np.isnan(summary.loc["lmac", "spearman_mean"]) and summary.loc["lmac", "n"] == 0
    assert summary.loc["lmac", "note"] == "not applicable: no class"
    assert summary.loc["saliency", "spearman_mean"] == pytest.approx(0.2)


def test_write_summary_files(tmp_path):
    rows = _cascading_rows()
    paths = []
    for seed, frame in rows.groupby("seed"):
        paths.append(str(tmp_path / f"seed{seed}.csv"))
        frame.to_csv(paths[-1], index=False)
    out = {ext: str(tmp_path / f"summary.{ext}") for ext in ("csv", "md", "tex", "html")}
    write_summary(
        paths,
        CASCADING_KEYS,
        "Cascading",
        str(tmp_path / "rows.csv"),
        out["csv"],
        out["md"],
        out["tex"],
        out["html"],
        n_boot=200,
    )
    assert len(pd.read_csv(tmp_path / "rows.csv")) == len(rows)
    table = pd.read_csv(out["csv"])
    assert {"spearman_mean", "spearman_ci_low", "spearman_ci_high", "ssim_mean", "n", "n_seeds"} <= set(table.columns)
    md = (tmp_path / "summary.md").read_text()
    assert "| m | fixed | 1 | head | 0.515 [" in md
    assert r"\begin{tabular}" in (tmp_path / "summary.tex").read_text()
    assert "<table" in (tmp_path / "summary.html").read_text()


def test_missing_columns_name_the_file(tmp_path):
    pd.DataFrame({"method": ["m"], "spearman": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(LmacError, match="bad.csv: lacks the column"):
        write_summary(
            [str(tmp_path / "bad.csv")],
            CASCADING_KEYS,
            "t",
            *(str(tmp_path / f"o.{e}") for e in ("rows.csv", "csv", "md", "tex")),
        )


def test_figures_are_written(tmp_path):
    summary = summarise(_cascading_rows(), CASCADING_KEYS, n_boot=200)
    figures.cascading_figure(summary, str(tmp_path / "c.png"), str(tmp_path / "c.pdf"))
    data = pd.DataFrame(
        {
            "method": ["m", "m"],
            "decoder": ["fixed", "retrained"],
            "classifier": "permuted",
            "seed": 1,
            "id": "a",
            "spearman": [0.2, 0.1],
            "ssim": [0.3, 0.2],
        }
    )
    figures.data_randomisation_figure(
        summarise(data, ("method", "decoder", "classifier"), n_boot=200),
        str(tmp_path / "d.png"),
        str(tmp_path / "d.pdf"),
    )
    for name in ("c.png", "c.pdf", "d.png", "d.pdf"):
        assert (tmp_path / name).stat().st_size > 1000, name
