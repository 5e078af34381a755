"""The metrics table as one standalone HTML page, for the Snakemake report (which shows HTML
results inline): one table per condition, one row per method, cells ``mean [95 % CI]``, the same
cells and layout as ``metrics.md`` (:mod:`.tables`)."""

from __future__ import annotations

import html
import os

import pandas as pd

from ..io import write_text
from .plotting import TABLE_COLUMNS, metric_label, read_table
from .tables import _blocks, _cell

STYLE = """body{font-family:sans-serif;font-size:13px}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f2f2f2}"""


def to_html(table: pd.DataFrame, accuracy: float | None = None) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>Metrics</title>',
        f"<style>{STYLE}</style></head><body>",
        "<p>Mean [95 % bootstrap CI] per method; ↑ higher is better, ↓ lower is better.</p>",
    ]
    for condition, block, metrics in _blocks(table):
        rows = {
            method: [_cell(cells.set_index("metric"), m) for m in metrics]
            for method, cells in block.groupby("method", sort=False)
        }
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=[metric_label(m) for m in metrics])
        frame.index.name = "method"
        accuracy_here = block["classifier_accuracy"].iloc[0] if "classifier_accuracy" in block else float("nan")
        parts.append(
            f"<h3>Condition: {html.escape(str(condition))} (n = {block['n'].max()} items; classifier "
            f"accuracy on these inputs {100 * accuracy_here:.1f} %)</h3>"
        )
        parts.append(frame.to_html(border=0))
    if accuracy is not None:
        parts.append(f"<p>Classifier test accuracy (clean test clips): {100 * accuracy:.1f} %</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html_table(table_csv: str | os.PathLike, out_html: str | os.PathLike, accuracy: float | None = None) -> None:
    table = read_table(table_csv, columns=(*TABLE_COLUMNS, "n"))
    write_text(out_html, to_html(table, accuracy))
