"""Paper vs. ours: every published number next to our mean [95 % CI], the difference and why it may differ.

Inputs: our aggregated table (``results/<run>/tables/metrics.csv`` from :mod:`lmac.reporting.tables`:
one row per condition × method × metric with mean and bootstrap CI), the classifier's
``metrics.json`` and the published numbers (:mod:`.paper_tables`). For each published number the
comparison has one row with the published value, ours, Δ = ours − published, whether the
published value lies inside our interval, and the notes that explain a difference: the known
defects (e.g. the double-softmax AD, compared with our AD_ref), the row's own notes, and for
anything we did not run, the reason.
"""

from __future__ import annotations

import math

import pandas as pd

from ..errors import LmacError
from .published import CLASSIFIER_METHOD, CLASSIFIER_METRICS, Published


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
