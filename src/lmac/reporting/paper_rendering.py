"""Paper vs. ours as Markdown, LaTeX (one ``table`` per published table, booktabs) and a long-form CSV.

Each published table lists its numbers next to ours (mean [95 % CI], at the published value's
precision), Δ = ours − published, whether the published value lies inside our interval, and
numbered notes (:mod:`.paper_comparison`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import LmacError
from ..evaluation import catalogue
from ..io import write_csv, write_text
from .paper_comparison import compare, table_notes
from .published import Published, load_published
from .table_model import Cell, Table, tex_escape


@dataclass
class RunInfo:
    """What the header says about our numbers."""

    dataset: str = "esc50"
    split: str | None = None
    n_seeds: int | None = None
    source: str = "results/<run>/tables/metrics.csv"

    @property
    def paper_protocol(self) -> bool:
        return self.dataset == "esc50"


def _decimals(published: float) -> int:
    """Decimals of a row: at least 2, more when the published value has them (0.826 → 3)."""
    text = repr(float(published))
    return min(max(2, len(text.split(".")[1]) if "." in text and "e" not in text else 2), 4)


def _fmt(value: float, digits: int = 2, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _cells(row) -> tuple[str, str, str]:
    """Published, ours (mean [CI]) and Δ of a compared row, at the published value's precision."""
    d = _decimals(row.published)
    if math.isnan(row.ours):
        ours = "—"
    elif math.isnan(row.ours_ci_low):
        ours = _fmt(row.ours, d)
    else:
        ours = f"{_fmt(row.ours, d)} [{_fmt(row.ours_ci_low, d)}, {_fmt(row.ours_ci_high, d)}]"
    return _fmt(row.published, d), ours, _fmt(row.delta, d, signed=True)


def _in_ci(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else ("yes" if value else "no")


def _same_name(a: str, b: str) -> bool:
    return "".join(ch for ch in a.lower() if ch.isalnum()) == "".join(ch for ch in b.lower() if ch.isalnum())


def _metric_label(row) -> str:
    # name the metric of ours only when it is a different quantity's name (AD vs AD_ref), not a spelling
    label = row.published_as if _same_name(row.published_as, row.metric) else f"{row.published_as} (ours: {row.metric})"
    arrow = metric.arrow() if (metric := catalogue.metric(row.metric)) else ""
    return f"{label} {arrow}" if arrow else label


def _numbered(block: pd.DataFrame) -> tuple[list[str], list[list[int]]]:
    """Distinct notes of a table in order of appearance, and each row's note numbers."""
    legend: list[str] = []
    marks = []
    for notes in block["notes"]:
        numbers = []
        for note in notes:
            if note not in legend:
                legend.append(note)
            numbers.append(legend.index(note) + 1)
        marks.append(sorted(numbers))
    return legend, marks


def _header(info: RunInfo) -> list[str]:
    seeds = f", {info.n_seeds} seed(s)" if info.n_seeds else ""
    split = f", split {info.split}" if info.split else ""
    lines = [
        f"Ours: {info.source} (dataset {info.dataset}{split}{seeds}; mean [95 % bootstrap CI]). "
        "Δ = ours − published; 'in CI' says whether the published value lies inside our interval. "
        "Published numbers and their sources: config/published.yaml."
    ]
    if not info.paper_protocol:
        lines.append(
            f"Not the paper protocol: dataset '{info.dataset}' is not ESC-50 (e.g. the embedded default's "
            "synthetic data and tiny models), so the differences below say nothing about the papers; "
            "run config/paper.yaml for a comparison."
        )
    if info.split and info.split != "valid":
        lines.append(
            f"Ours are on split {info.split}; the reference's eval.py scores fold 4 (valid), the fold "
            "its learning-rate schedule watches (docs/reproducibility_notes.md)."
        )
    return lines


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _intro(table: dict, pub: Published) -> list[str]:
    """The table's provenance line and its table-wide notes, as sentences."""
    line = (
        f"{pub.papers[table['paper']]}. Source: {table['source']}; "
        f"{'verified' if table['verified'] else 'unverified'}; condition: {table['condition']}."
    )
    return [line] + [
        _sentence(t) for t in ([table["note"]] if table.get("note") else []) + table_notes(pub, table["id"])
    ]


def _tex_number(text: str) -> str:
    # signed numbers in math mode so that "-" is a minus sign, not a hyphen
    return f"${text}$" if text[:1] in "+-" else tex_escape(text)


def _table(block: pd.DataFrame) -> tuple[list[str], Table]:
    """The notes of a published table's rows (numbered in order) and the rows next to ours."""
    several = block["condition"].nunique() > 1
    legend, marks = _numbered(block)
    header = [Cell("method", "Method"), Cell("metric", "Metric"), Cell("published", "Published"), Cell("ours", "Ours")]
    header += ["Δ", "in CI", Cell("notes", "Notes")]
    table = Table([Cell("condition", "Condition")] * several + header, align="l" * several + "llrlrll")
    for row, numbers in zip(block.itertuples(), marks):
        published, ours, delta = _cells(row)
        table.rows.append(
            [row.condition] * several
            + [Cell(f"{row.method_name} (`{row.method}`)", tex_escape(row.method_name)), _metric_label(row)]
            + [published, ours, Cell(delta, _tex_number(delta)), _in_ci(row.in_ci)]
            + [Cell(" ".join(f"[{n}]" for n in numbers), ",".join(str(n) for n in numbers))]
        )
    return legend, table


def to_markdown(compared: pd.DataFrame, pub: Published, info: RunInfo) -> str:
    out = ["# Paper vs. ours", ""]
    for line in _header(info):
        out += [f"> {line}", ""]
    for table in pub.tables:
        block = compared[compared["table"] == table["id"]]
        intro = _intro(table, pub)
        out += [f"## Table {table['id']}: {table['title']}", "", f"{intro[0]} <{table['url']}>", ""]
        out += [f"- {note}" for note in intro[1:]] + ([""] if intro[1:] else [])
        if block.empty:
            out += ["No published numbers in this table.", ""]
            continue
        legend, rendered = _table(block)
        out += rendered.to_markdown()
        out.append("")
        out += [f"[{i}] {_sentence(note)}  " for i, note in enumerate(legend, 1)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def to_latex(compared: pd.DataFrame, pub: Published, info: RunInfo) -> str:
    out = ["% Paper vs. ours (lmac.reporting.paper_rendering); needs \\usepackage{booktabs}"]
    out += [f"% {line}" for line in _header(info)]
    out.append("")
    for table in pub.tables:
        block = compared[compared["table"] == table["id"]]
        intro = _intro(table, pub)
        if block.empty:
            out += [f"% Table {table['id']} ({table['title']}): no published numbers. {' '.join(intro[1:])}", ""]
            continue
        legend, rendered = _table(block)
        out += [r"\begin{table}[t]", r"\centering", r"\small", *rendered.to_latex()]
        if legend:
            out.append(
                r"\par\smallskip{\footnotesize "
                + " ".join(f"[{i}] {tex_escape(_sentence(n))}" for i, n in enumerate(legend, 1))
                + "}"
            )
        out += [
            r"\caption{" + tex_escape(f"Table {table['id']}: {table['title']}. " + " ".join(intro)) + "}",
            r"\label{tab:paper-" + table["id"] + "}",
            r"\end{table}",
            "",
        ]
    return "\n".join(out)


def write_paper_tables(
    metrics_csv: str | Path,
    published_yaml: str | Path,
    out_md: str,
    out_tex: str,
    out_csv: str,
    classifier_json: str | Path | None = None,
    dataset: str = "esc50",
) -> pd.DataFrame:
    pub = load_published(published_yaml)
    if not Path(metrics_csv).is_file():
        raise LmacError(f"{metrics_csv}: no such file")
    ours = pd.read_csv(metrics_csv)
    classifier = None
    if classifier_json is not None:
        classifier = json.loads(Path(classifier_json).read_text())
    compared = compare(pub, ours, classifier)
    splits = sorted(set(ours["split"])) if "split" in ours else []
    n_seeds = int(ours["n_seeds"].max()) if "n_seeds" in ours and len(ours) else None
    info = RunInfo(dataset=dataset, split=", ".join(splits) or None, n_seeds=n_seeds, source=str(metrics_csv))
    write_text(out_md, to_markdown(compared, pub, info))
    write_text(out_tex, to_latex(compared, pub, info))
    everything = [notes + table_notes(pub, table) for notes, table in zip(compared["notes"], compared["table"])]
    write_csv(out_csv, compared.assign(notes=[" | ".join(notes) for notes in everything]))
    return compared
