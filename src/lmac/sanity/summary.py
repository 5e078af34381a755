"""Sanity-check tables: mean Spearman and SSIM per group with clip-level 95 % bootstrap CIs.

Per-clip rows of every method and seed are pooled (clips of all seeds resampled together, as
the metrics tables do) with :func:`lmac.reporting.tables.bootstrap_ci`. The summary is one row
per group (e.g. method × decoder × step) with ``n`` clips, ``n_seeds``, and for each score
``<score>_mean``, ``<score>_ci_low``, ``<score>_ci_high``; rows that were not applicable (the
random-logit check for class-agnostic explainers) keep NaN scores and their ``note``.
Written as CSV, Markdown, LaTeX and a standalone HTML page (the Snakemake report shows HTML inline).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..io import write_csv, write_text
from ..reporting.table_model import Cell, Table, format_ci, html_page, tex_ci
from ..reporting.tables import bootstrap_ci
from .similarity import SCORES

#: group keys of each check's summary, in table order
CASCADING_KEYS = ("method", "decoder", "step", "block")
DATA_KEYS = ("method", "decoder", "classifier")
RANDOM_LOGIT_KEYS = ("method", "decoder")


def read_rows(paths: list[str], columns: tuple[str, ...]) -> pd.DataFrame:
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path)
        except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise LmacError(f"{path}: not a readable per-clip sanity CSV ({type(err).__name__})") from None
        missing = [c for c in (*columns, *SCORES) if c not in frame.columns]
        if missing:
            raise LmacError(f"{path}: lacks the column(s) {', '.join(missing)}")
        frames.append(frame)
    if not frames:
        raise LmacError("no per-clip sanity results to summarise")
    return pd.concat(frames, ignore_index=True)


def summarise(rows: pd.DataFrame, keys: tuple[str, ...], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per group of ``keys`` (in order of appearance) with each score's mean and 95 % CI."""
    out = []
    for group_keys, group in rows.groupby(list(keys), sort=False, dropna=False):
        row = dict(zip(keys, group_keys))
        row.update(
            n=int(group[SCORES[0]].notna().sum()), n_seeds=int(group["seed"].nunique()) if "seed" in group else 1
        )
        for score in SCORES:
            values = group[score].to_numpy(dtype=float)
            lo, hi = bootstrap_ci(values, n_boot, seed)
            row.update(
                {
                    f"{score}_mean": float(np.nanmean(values)) if np.isfinite(values).any() else np.nan,
                    f"{score}_ci_low": lo,
                    f"{score}_ci_high": hi,
                }
            )
        if "note" in group:
            notes = [n for n in group["note"].dropna().unique() if str(n)]
            row["note"] = "; ".join(map(str, notes))
        out.append(row)
    return pd.DataFrame(out)


def _cell(row, score: str) -> Cell:
    mean, lo, hi = row[f"{score}_mean"], row[f"{score}_ci_low"], row[f"{score}_ci_high"]
    return Cell(format_ci(mean, lo, hi, missing="n/a"), tex_ci(mean, lo, hi, missing="n/a"))


def _table(summary: pd.DataFrame, keys: tuple[str, ...], latex: bool = False) -> Table:
    """One row per group: its keys and each score's mean [95 % CI]; outside LaTeX also n and the notes."""
    if latex:
        table = Table([*keys, "Spearman", "SSIM"], align="l" * len(keys) + "cc")
    else:
        has_note = "note" in summary and summary["note"].astype(str).str.len().gt(0).any()
        table = Table([*keys, *(f"{s} (mean [95 % CI])" for s in SCORES), "n", *(["note"] if has_note else [])])
    for _, row in summary.iterrows():
        cells = [str(row[k]) for k in keys] + [_cell(row, s) for s in SCORES]
        if not latex:
            cells.append(str(row["n"]))
            if has_note:
                cells.append(str(row["note"]) if isinstance(row["note"], str) else "")
        table.rows.append(cells)
    return table


def to_markdown(summary: pd.DataFrame, keys: tuple[str, ...], title: str) -> str:
    return "\n".join([f"### {title}", "", *_table(summary, keys).to_markdown()]) + "\n"


def to_latex(summary: pd.DataFrame, keys: tuple[str, ...]) -> str:
    return "\n".join([*_table(summary, keys, latex=True).to_latex(), ""])


def to_html(summary: pd.DataFrame, keys: tuple[str, ...], title: str) -> str:
    return html_page(title, [f"<h3>{html.escape(title)}</h3>", _table(summary, keys).to_html()])


def write_summary(
    per_clip_csvs: list[str],
    keys: tuple[str, ...],
    title: str,
    out_rows: str,
    out_csv: str,
    out_md: str,
    out_tex: str,
    out_html: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Pool the per-clip CSVs into ``out_rows`` and write the summary as CSV, Markdown, LaTeX (and HTML)."""
    rows = read_rows(per_clip_csvs, keys)
    summary = summarise(rows, keys, n_boot, seed)
    write_csv(out_rows, rows)
    write_csv(out_csv, summary)
    write_text(out_md, to_markdown(summary, keys, title))
    write_text(out_tex, to_latex(summary, keys))
    if out_html:
        write_text(out_html, to_html(summary, keys, title))
    return summary
