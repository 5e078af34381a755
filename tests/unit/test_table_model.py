"""The table model: one table in Markdown, LaTeX, HTML and CSV; the one escaper; the one CI formatter; and
the report tables rendered through it, pinned to what the earlier per-module renderers wrote."""

from __future__ import annotations

import math

import pandas as pd

from lmac.reporting import tables
from lmac.reporting.table_model import STYLE, Cell, Table, ci_cell, format_ci, html_page, tex_ci, tex_escape
from lmac.sanity.summary import to_latex as sanity_latex
from lmac.sanity.summary import to_markdown as sanity_markdown

NAN = math.nan


def _table() -> Table:
    return Table(
        [Cell("method", "Method"), "AI ↑", "Δ"],
        [["lmac_td_a0.75", ci_cell(12.5, 10.0, 15.0), Cell("-1.50", "$-1.50$")], ["a<b&c", ci_cell(NAN, NAN, NAN), ""]],
    )


def test_one_table_in_every_format():
    table = _table()
    assert table.to_markdown() == [
        "| method | AI ↑ | Δ |",
        "|---|---|---|",
        "| lmac_td_a0.75 | 12.500 [10.000, 15.000] | -1.50 |",
        "| a<b&c | – |  |",
    ]
    assert table.to_latex() == [
        r"\begin{tabular}{lcc}",
        r"\toprule",
        r"Method & AI $\uparrow$ & $\Delta$ \\",
        r"\midrule",
        r"lmac\_td\_a0.75 & 12.50$_{[10.00, 15.00]}$ & $-1.50$ \\",
        r"a\textless{}b\&c & -- &  \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]
    assert table.to_html().splitlines() == [
        "<table>",
        "<thead>",
        "<tr><th>method</th><th>AI ↑</th><th>Δ</th></tr>",
        "</thead>",
        "<tbody>",
        "<tr><th>lmac_td_a0.75</th><td>12.500 [10.000, 15.000]</td><td>-1.50</td></tr>",
        "<tr><th>a&lt;b&amp;c</th><td>–</td><td></td></tr>",
        "</tbody>",
        "</table>",
    ]
    assert table.to_csv().splitlines() == [
        "method,AI ↑,Δ",
        'lmac_td_a0.75,"12.500 [10.000, 15.000]",-1.50',
        "a<b&c,–,",
    ]
    assert list(table.to_frame().columns) == ["method", "AI ↑", "Δ"]


def test_the_escaper_covers_every_latex_special_and_the_symbols_used():
    assert tex_escape(r"a_b 50% & #1 $x {y} ~^ \ |<>§") == (
        r"a\_b 50\% \& \#1 \$x \{y\} \textasciitilde{}\textasciicircum{} \textbackslash{} "
        r"\textbar{}\textless{}\textgreater{}\S{}"
    )
    assert tex_escape("α τ ρ Δ ↑ ↓ — – − · ≥ ≤ ≈ ×") == (
        r"$\alpha$ $\tau$ $\rho$ $\Delta$ $\uparrow$ $\downarrow$ --- -- $-$ $\cdot$ $\geq$ $\leq$ $\approx$ $\times$"
    )
    assert tex_escape(0.75) == "0.75"


def test_one_ci_formatter():
    assert format_ci(1.0, 0.5, 1.5) == "1.000 [0.500, 1.500]"
    assert format_ci(1.0, 0.5, 1.5, digits=2, sep="; ") == "1.00 [0.50; 1.50]"
    assert format_ci(NAN, 0.0, 1.0) == "–" and format_ci(None, 0.0, 1.0, missing="n/a") == "n/a"
    assert tex_ci(1.0, 0.5, 1.5) == "1.00$_{[0.50, 1.50]}$" and tex_ci(NAN, 0, 0) == "--"
    assert ci_cell(NAN, NAN, NAN, missing="n/a") == Cell("n/a", "n/a")


def test_html_page_has_one_style_and_an_escaped_title():
    page = html_page("a & b", ["<p>x</p>"])
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</body></html>\n")
    assert "<title>a &amp; b</title>" in page and f"<style>{STYLE}</style>" in page and "<p>x</p>" in page


def _aggregated() -> pd.DataFrame:
    rows = []
    for method, ms, values in (
        ("lmac_td_a0.75", 2.5, {"AI": (12.5, 10.0, 15.0), "MM": (0.25, 0.2, 0.3), "IoU": (NAN, NAN, NAN)}),
        ("grad&cam", 1.0, {"AI": (2.0, 1.0, 3.0), "MM": (0.5, 0.5, 0.5), "IoU": (0.125, 0.0, 0.25)}),
    ):
        for metric, (mean, lo, hi) in values.items():
            rows.append(
                {
                    **{"condition": "mixture", "method": method, "split": "test", "metric": metric},
                    **{"mean": mean, "ci_low": lo, "ci_high": hi, "n": 0 if math.isnan(mean) else 4, "n_seeds": 1},
                    **{"classifier_accuracy": 0.75, "explain_ms_per_clip": ms},
                }
            )
    return pd.DataFrame(rows)


def test_metrics_table_renders_as_before():
    # the text the earlier renderers of tables.py wrote for this table, except `grad\&cam`: the earlier
    # escaper left `&` as it was, which breaks the LaTeX table
    assert tables.to_markdown(_aggregated(), 0.5) == (
        "### Condition: mixture (split test, n = 4 items; classifier accuracy on these inputs 75.0 %; "
        "mean [95 % bootstrap CI])\n\n| method | AI ↑ | MM | IoU ↑ | ms/clip |\n|---|---|---|---|---|\n"
        "| lmac_td_a0.75 | 12.500 [10.000, 15.000] | 0.250 [0.200, 0.300] | – | 2.5 |\n"
        "| grad&cam | 2.000 [1.000, 3.000] | 0.500 [0.500, 0.500] | 0.125 [0.000, 0.250] | 1.0 |\n\n"
        "Classifier test accuracy (clean test clips): 50.0 %\n"
    )
    assert tables.to_latex(_aggregated()) == (
        "% condition: mixture\n\\begin{tabular}{lccc}\n\\toprule\nMethod & AI $\\uparrow$ & MM & IoU $\\uparrow$ \\\\\n"
        "\\midrule\nlmac\\_td\\_a0.75 & 12.50$_{[10.00, 15.00]}$ & 0.25$_{[0.20, 0.30]}$ & -- \\\\\n"
        "grad\\&cam & 2.00$_{[1.00, 3.00]}$ & 0.50$_{[0.50, 0.50]}$ & 0.12$_{[0.00, 0.25]}$ \\\\\n"
        "\\bottomrule\n\\end{tabular}\n"
    )


def test_sanity_summary_renders_as_before_with_the_complete_escaper():
    summary = pd.DataFrame(
        {
            "method": ["lmac", "a&b"],
            "block": ["conv_1#", "none"],
            "n": [8, 0],
            "n_seeds": [2, 2],
            **{"spearman_mean": [0.5, NAN], "spearman_ci_low": [0.25, NAN], "spearman_ci_high": [0.75, NAN]},
            **{"ssim_mean": [1.0, NAN], "ssim_ci_low": [1.0, NAN], "ssim_ci_high": [1.0, NAN]},
            "note": ["", "not applicable"],
        }
    )
    assert sanity_markdown(summary, ("method", "block"), "T").splitlines() == [
        "### T",
        "",
        "| method | block | spearman (mean [95 % CI]) | ssim (mean [95 % CI]) | n | note |",
        "|---|---|---|---|---|---|",
        "| lmac | conv_1# | 0.500 [0.250, 0.750] | 1.000 [1.000, 1.000] | 8 |  |",
        "| a&b | none | n/a | n/a | 0 | not applicable |",
    ]
    # the earlier escaper of the sanity tables escaped `_` and `%` only: `#` and `&` broke the LaTeX
    assert sanity_latex(summary, ("method", "block")).splitlines() == [
        r"\begin{tabular}{llcc}",
        r"\toprule",
        r"method & block & Spearman & SSIM \\",
        r"\midrule",
        r"lmac & conv\_1\# & 0.50$_{[0.25, 0.75]}$ & 1.00$_{[1.00, 1.00]}$ \\",
        r"a\&b & none & n/a & n/a \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]
