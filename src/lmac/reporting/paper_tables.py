"""Paper vs. ours: every published number next to our mean [95 % CI], the difference and why it may differ.

Inputs: our aggregated table (``results/<run>/tables/metrics.csv`` from :mod:`lmac.reporting.tables`:
one row per condition × method × metric with mean and bootstrap CI), the classifier's
``metrics.json`` and the published numbers (``config/published.yaml``: every number with its
table, paper, condition, method, metric, source and provenance; known reference defects as notes
with selectors). For each published table the output has one row per method × metric with the
published value, ours, Δ = ours − published, whether the published value lies inside our
interval, and numbered notes: the known defects that explain a difference (e.g. the double-softmax
AD, compared with our AD_ref), the row's own notes, and for anything we did not run, the reason.

Written as Markdown, LaTeX (one ``table`` per published table, booktabs) and a long-form CSV.
``python -m lmac.reporting.paper_tables config/published.yaml`` validates the data file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import LmacError
from ..io import write_csv, write_text
from .published import CLASSIFIER_METHOD, CLASSIFIER_METRICS, ROW_FIELDS, Published, load_published  # noqa: F401
from .tables import DIRECTION

# --------------------------------------------------------------------------------------------
# comparison


def _ours_index(ours: pd.DataFrame) -> dict[tuple[str, str, str], dict]:
    needed = {"condition", "method", "metric", "mean", "ci_low", "ci_high"}
    missing = sorted(needed - set(ours.columns))
    if missing:
        raise LmacError(f"our metrics table lacks the column(s): {', '.join(missing)}")
    index: dict[tuple[str, str, str], dict] = {}
    for row in ours.to_dict("records"):
        index.setdefault((row["condition"], row["method"], row["metric"]), row)
    return index


def _table_level(note: dict) -> bool:
    """A note selecting whole tables only: shown once under the table's title, not on every row."""
    return set(note["applies"]) == {"tables"}


def _note_text(note: dict) -> str:
    return f"{note['text']} ({note['source']})"


def table_notes(pub: Published, table_id: str) -> list[str]:
    return [_note_text(n) for n in pub.notes if _table_level(n) and table_id in n["applies"]["tables"]]


def _applies(note: dict, record: dict) -> bool:
    keys = {"tables": "table", "conditions": "condition", "methods": "method", "metrics": "metric"}
    return all(record[keys[selector]] in values for selector, values in note["applies"].items())


def _ours(
    record: dict, pub: Published, index: dict, conditions: set, methods: set, classifier: dict | None
) -> tuple[dict, str]:
    """Our value for a published record ({mean, low, high}) or the reason there is none."""
    method, metric, condition = record["method"], record["metric"], record["condition"]
    spec = pub.methods[method]
    if not spec.get("implemented", True):
        return {}, f"not run: {spec['reason']}"
    if not pub.metrics[metric].get("computed", True):
        return {}, f"not run: lmac does not compute {pub.metrics[metric]['published_as']}"
    if method == CLASSIFIER_METHOD or metric in CLASSIFIER_METRICS:
        if method != CLASSIFIER_METHOD or metric not in CLASSIFIER_METRICS:
            return {}, f"not run: {metric} is not reported for {method}"
        value = (classifier or {}).get(metric)
        if value is None:
            return {}, f"not run: no {metric} in the classifier's metrics.json"
        return {"mean": 100.0 * float(value), "low": math.nan, "high": math.nan}, ""
    if condition not in conditions:
        return {}, f"not run: condition {condition} was not evaluated (evaluation.conditions)"
    row = index.get((condition, method, metric))
    if row is None:
        if method not in methods:
            return {}, f"not run: {method} was not evaluated (evaluation.methods, lmac_td.alphas)"
        return {}, f"not run: no {metric} for {method} under {condition} in our table"
    if row["mean"] is None or (isinstance(row["mean"], float) and math.isnan(row["mean"])):
        return {}, f"no value: our {metric} is undefined here (e.g. no ground truth on this data set)"
    return {"mean": float(row["mean"]), "low": float(row["ci_low"]), "high": float(row["ci_high"])}, ""


def compare(pub: Published, ours: pd.DataFrame, classifier: dict | None = None) -> pd.DataFrame:
    """One row per published number: published, ours (mean, CI), delta, in_ci and the row's notes.

    ``notes`` holds, in order, the reason there is no value of ours (if so), the known differences
    selected for this row and the row's own note; notes that select whole tables are left to
    :func:`table_notes`.
    """
    index = _ours_index(ours)
    conditions, methods = set(ours["condition"]), set(ours["method"])
    rows = []
    for record in pub.records:
        value, reason = _ours(record, pub, index, conditions, methods, classifier)
        notes = [_note_text(n) for n in pub.notes if not _table_level(n) and _applies(n, record)]
        if record["note"]:
            notes.append(record["note"])
        if reason:
            notes.insert(0, reason)
        mean, low, high = value.get("mean", math.nan), value.get("low", math.nan), value.get("high", math.nan)
        in_ci = None if math.isnan(low) else bool(low <= record["value"] <= high)
        rows.append(
            {
                **{k: record[k] for k in ("table", "paper", "condition", "method", "metric")},
                "method_name": pub.methods[record["method"]]["name"],
                "published_as": pub.metrics[record["metric"]]["published_as"],
                "published": record["value"],
                "ours": mean,
                "ours_ci_low": low,
                "ours_ci_high": high,
                "delta": mean - record["value"],
                "in_ci": in_ci,
                "verified": record["verified"],
                "source": record["source"],
                "url": record["url"],
                "notes": notes,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "table",
            "paper",
            "condition",
            "method",
            "metric",
            "method_name",
            "published_as",
            "published",
            "ours",
            "ours_ci_low",
            "ours_ci_high",
            "delta",
            "in_ci",
            "verified",
            "source",
            "url",
            "notes",
        ],
    )


# --------------------------------------------------------------------------------------------
# rendering


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
    better = DIRECTION.get(row.metric)
    return label + ("" if better is None else (" ↑" if better else " ↓"))


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
        several = block["condition"].nunique() > 1
        legend, marks = _numbered(block)
        out += [
            "| " + ("condition | " if several else "") + "method | metric | published | ours | Δ | in CI | notes |",
            "|" + "---|" * (7 + several),
        ]
        for row, numbers in zip(block.itertuples(), marks):
            cells = ([row.condition] if several else []) + [
                f"{row.method_name} (`{row.method}`)",
                _metric_label(row),
                *_cells(row),
                _in_ci(row.in_ci),
                " ".join(f"[{n}]" for n in numbers),
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out += [f"[{i}] {_sentence(note)}  " for i, note in enumerate(legend, 1)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


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
    "Δ": r"$\Delta$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "—": "---",
    "−": "$-$",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "§": r"\S{}",
    "≈": r"$\approx$",
    "×": r"$\times$",
}


def tex_escape(text: str) -> str:
    """Plain text → LaTeX (the special characters escaped, the few Unicode symbols used here as math)."""
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def _tex_number(text: str) -> str:
    # signed numbers in math mode so that "-" is a minus sign, not a hyphen
    return f"${text}$" if text[:1] in "+-" else tex_escape(text)


def to_latex(compared: pd.DataFrame, pub: Published, info: RunInfo) -> str:
    out = ["% Paper vs. ours (lmac.reporting.paper_tables); needs \\usepackage{booktabs}"]
    out += [f"% {line}" for line in _header(info)]
    out.append("")
    for table in pub.tables:
        block = compared[compared["table"] == table["id"]]
        intro = _intro(table, pub)
        if block.empty:
            out += [f"% Table {table['id']} ({table['title']}): no published numbers. {' '.join(intro[1:])}", ""]
            continue
        several = block["condition"].nunique() > 1
        legend, marks = _numbered(block)
        out += [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            r"\begin{tabular}{" + ("l" if several else "") + "llrlrll}",
            r"\toprule",
            ("Condition & " if several else "") + r"Method & Metric & Published & Ours & $\Delta$ & in CI & Notes \\",
            r"\midrule",
        ]
        for row, numbers in zip(block.itertuples(), marks):
            published, ours, delta = _cells(row)
            cells = ([tex_escape(row.condition)] if several else []) + [
                tex_escape(row.method_name),
                tex_escape(_metric_label(row)),
                tex_escape(published),
                tex_escape(ours),
                _tex_number(delta),
                _in_ci(row.in_ci),
                ",".join(str(n) for n in numbers),
            ]
            out.append(" & ".join(cells) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}"]
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


if __name__ == "__main__":  # python -m lmac.reporting.paper_tables config/published.yaml: validate, count
    import sys

    from .published import main

    sys.exit(main(sys.argv[1:]))
