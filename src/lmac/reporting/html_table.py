"""The metrics table as one standalone HTML page, for the Snakemake report (which shows HTML
results inline): one table per condition, one row per method, cells ``mean [95 % CI]``, the same
cells and layout as ``metrics.md`` (:mod:`.tables`)."""

from __future__ import annotations

import html
import os

import pandas as pd

from ..io import write_text
from .plotting import TABLE_COLUMNS, read_table
from .table_model import html_page
from .tables import blocks, condition_table


def to_html(table: pd.DataFrame, accuracy: float | None = None) -> str:
    parts = ["<p>Mean [95 % bootstrap CI] per method; ↑ higher is better, ↓ lower is better.</p>"]
    for condition, block, metrics in blocks(table):
        accuracy_here = block["classifier_accuracy"].iloc[0] if "classifier_accuracy" in block else float("nan")
        parts.append(
            f"<h3>Condition: {html.escape(str(condition))} (n = {block['n'].max()} items; classifier "
            f"accuracy on these inputs {100 * accuracy_here:.1f} %)</h3>"
        )
        parts.append(condition_table(block, metrics).to_html())
    if accuracy is not None:
        parts.append(f"<p>Classifier test accuracy (clean test clips): {100 * accuracy:.1f} %</p>")
    return html_page("Metrics", parts)


def write_html_table(table_csv: str | os.PathLike, out_html: str | os.PathLike, accuracy: float | None = None) -> None:
    table = read_table(table_csv, columns=(*TABLE_COLUMNS, "n"))
    write_text(out_html, to_html(table, accuracy))
