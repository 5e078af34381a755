"""One table model for every report table, rendered to Markdown, LaTeX, HTML and CSV.

A :class:`Table` is a header and rows of cells. A cell is plain text (Unicode: arrows, α, Δ),
escaped for LaTeX and HTML by the renderers here, or a :class:`Cell` that also carries its LaTeX
form (a mean with its CI as a subscript, a signed number in math mode, a header that LaTeX
capitalises). Means with 95 % CIs read ``mean [low, high]`` in text (:func:`format_ci`) and
``mean$_{[low, high]}$`` in LaTeX (:func:`ci_cell`). Standalone HTML pages (the Snakemake report
shows HTML results inline) share one style (:func:`html_page`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..smoke import mark as smoke_mark

MISSING = "–"

_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "α": r"$\alpha$",
    "τ": r"$\tau$",
    "ρ": r"$\rho$",
    "Δ": r"$\Delta$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "—": "---",
    "–": "--",
    "−": "$-$",
    "·": r"$\cdot$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "≈": r"$\approx$",
    "×": r"$\times$",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "§": r"\S{}",
}

STYLE = """body{font-family:sans-serif;font-size:13px}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f2f2f2}
.smoke{color:#b00;font-weight:bold}"""


def tex_escape(text: object) -> str:
    """Plain text → LaTeX (the special characters escaped, the few Unicode symbols used here as math)."""
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_ci(mean: float, lo: float, hi: float, digits: int = 3, sep: str = ", ", missing: str = MISSING) -> str:
    """``mean [lo, hi]`` with ``digits`` decimals, ``missing`` for an undefined mean."""
    if _missing(mean):
        return missing
    return f"{mean:.{digits}f} [{lo:.{digits}f}{sep}{hi:.{digits}f}]"


def tex_ci(mean: float, lo: float, hi: float, digits: int = 2, missing: str = MISSING) -> str:
    """``mean$_{[lo, hi]}$``: the CI as a subscript range, ``missing`` (escaped) for an undefined mean."""
    if _missing(mean):
        return tex_escape(missing)
    return f"{mean:.{digits}f}$_{{[{lo:.{digits}f}, {hi:.{digits}f}]}}$"


@dataclass(frozen=True)
class Cell:
    """A cell's text (Markdown, HTML, CSV) and, where it is not the escaped text, its LaTeX."""

    text: str
    tex: str | None = None

    def latex(self) -> str:
        return tex_escape(self.text) if self.tex is None else self.tex


def ci_cell(mean: float, lo: float, hi: float, digits: int = 3, tex_digits: int = 2, missing: str = MISSING) -> Cell:
    """A mean with its CI: ``digits`` decimals in text, ``tex_digits`` in LaTeX."""
    return Cell(format_ci(mean, lo, hi, digits, missing=missing), tex_ci(mean, lo, hi, tex_digits, missing))


def _text(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else str(cell)


def _latex(cell: str | Cell) -> str:
    return cell.latex() if isinstance(cell, Cell) else tex_escape(cell)


@dataclass
class Table:
    header: Sequence[str | Cell]
    rows: list[Sequence[str | Cell]] = field(default_factory=list)
    #: LaTeX column specification; default a left-aligned first column, the rest centred
    align: str | None = None

    def to_markdown(self) -> list[str]:
        lines = [f"**{smoke_mark.TEXT}**", ""] if smoke_mark.active() else []
        lines += ["| " + " | ".join(map(_text, self.header)) + " |", "|" + "---|" * len(self.header)]
        return lines + ["| " + " | ".join(map(_text, row)) + " |" for row in self.rows]

    def to_latex(self) -> list[str]:
        """A booktabs ``tabular``."""
        align = self.align or "l" + "c" * (len(self.header) - 1)
        lines = [r"\begin{tabular}{" + align + "}", r"\toprule"]
        if smoke_mark.active():
            lines.append(rf"\multicolumn{{{len(self.header)}}}{{l}}{{\textbf{{{tex_escape(smoke_mark.TEXT)}}}}} \\")
        lines.append(" & ".join(map(_latex, self.header)) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join(map(_latex, row)) + r" \\" for row in self.rows]
        return lines + [r"\bottomrule", r"\end{tabular}"]

    def to_html(self) -> str:
        """A ``<table>``; the first column holds the row headers."""

        def row(cells, first: str, rest: str) -> str:
            out = [f"<{tag}>{html.escape(_text(c))}</{tag}>" for tag, c in zip([first] + [rest] * len(cells), cells)]
            return "<tr>" + "".join(out) + "</tr>"

        body = [row(r, "th", "td") for r in self.rows]
        caption = [f'<caption class="smoke">{html.escape(smoke_mark.TEXT)}</caption>'] if smoke_mark.active() else []
        return "\n".join(
            [
                "<table>",
                *caption,
                "<thead>",
                row(self.header, "th", "th"),
                "</thead>",
                "<tbody>",
                *body,
                "</tbody>",
                "</table>",
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """The cells' text as a data frame (what :meth:`to_csv` writes)."""
        return pd.DataFrame([list(map(_text, row)) for row in self.rows], columns=list(map(_text, self.header)))

    def to_csv(self) -> str:
        return self.to_frame().to_csv(index=False)


def html_page(title: str, body: Sequence[str]) -> str:
    """A standalone page in the reports' one style; ``body`` is HTML."""
    head = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
    banner = [f'<p class="smoke">{html.escape(smoke_mark.TEXT)}</p>'] if smoke_mark.active() else []
    return "\n".join([head, f"<style>{STYLE}</style></head><body>", *banner, *body, "</body></html>"]) + "\n"
