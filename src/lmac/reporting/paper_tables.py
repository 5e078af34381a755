"""The published numbers (``config/published.yaml``), read and validated.

Every number with its table, paper, condition, method, metric, source and provenance; known
reference defects as notes with selectors. :mod:`.paper_comparison` sets them next to ours,
:mod:`.paper_rendering` writes the comparison as Markdown, LaTeX and CSV.
``python -m lmac.reporting.paper_tables config/published.yaml`` validates the data file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import LmacError
from ..evaluation.conditions import CONDITIONS
from .tables import ALL_METRICS

#: Classifier metrics (``metrics.json`` fractions, shown in % as published).
CLASSIFIER_METRICS = ("test_accuracy", "valid_accuracy")
CLASSIFIER_METHOD = "classifier"
#: Row keys that are not metric values.
ROW_FIELDS = ("method", "condition", "note", "paper", "source", "url", "verified")

_STR = {"type": "string", "minLength": 1}
_SELECTOR = {"type": "array", "items": _STR, "minItems": 1}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["papers", "methods", "metrics", "tables"],
    "properties": {
        "papers": {"type": "object", "minProperties": 1, "additionalProperties": _STR},
        "methods": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": _STR, "implemented": {"type": "boolean"}, "reason": _STR},
            },
        },
        "metrics": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["published_as"],
                "properties": {"published_as": _STR, "computed": {"type": "boolean"}},
            },
        },
        "notes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "text", "source", "applies"],
                "properties": {
                    "id": _STR,
                    "text": _STR,
                    "source": _STR,
                    "applies": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {k: _SELECTOR for k in ("tables", "conditions", "methods", "metrics")},
                    },
                },
            },
        },
        "tables": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "paper", "source", "url", "verified", "condition", "rows"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                    "title": _STR,
                    "paper": _STR,
                    "source": _STR,
                    "url": {"type": "string", "pattern": "^https?://"},
                    "verified": {"type": "boolean"},
                    "condition": _STR,
                    "note": _STR,
                    "rows": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["method"],
                            "minProperties": 2,
                            "properties": {
                                "method": _STR,
                                "condition": _STR,
                                "note": _STR,
                                "paper": _STR,
                                "source": _STR,
                                "url": {"type": "string", "pattern": "^https?://"},
                                "verified": {"type": "boolean"},
                            },
                            "additionalProperties": {"type": "number"},
                        },
                    },
                },
            },
        },
    },
}


@dataclass
class Published:
    """The validated contents of ``published.yaml``."""

    papers: dict[str, str]
    methods: dict[str, dict]
    metrics: dict[str, dict]
    notes: list[dict]
    tables: list[dict]
    path: str = "published.yaml"
    records: list[dict] = field(default_factory=list)


def _fail(path, key: str, message: str) -> None:
    raise LmacError(f"{path}: key '{key}': {message}")


def _known_method(method: str) -> bool:
    from ..explainers.gradient import BASELINES  # imports Captum: only when a file is checked
    from ..explainers.registry import is_learned

    return method == CLASSIFIER_METHOD or is_learned(method) or method in BASELINES


def _check(data: dict, path) -> None:
    """Cross-references the schema cannot express: every name used is declared and known to lmac."""
    for name, spec in data["methods"].items():
        if spec.get("implemented", True):
            if not _known_method(name):
                _fail(path, f"methods.{name}", "not an lmac method; mark it 'implemented: false' with a reason")
        elif "reason" not in spec:
            _fail(path, f"methods.{name}", "'implemented: false' needs a 'reason'")
    for name, spec in data["metrics"].items():
        if spec.get("computed", True) and name not in (*ALL_METRICS, *CLASSIFIER_METRICS):
            _fail(
                path,
                f"metrics.{name}",
                f"not an lmac metric ({', '.join((*ALL_METRICS, *CLASSIFIER_METRICS))}); mark it 'computed: false'",
            )
    ids = [t["id"] for t in data["tables"]]
    for i, table in enumerate(data["tables"]):
        key = f"tables.{i}"
        if table["id"] in ids[:i]:  # the repeat is the one named
            _fail(path, f"{key}.id", f"table id '{table['id']}' is used twice")
        if table["paper"] not in data["papers"]:
            _fail(path, f"{key}.paper", f"'{table['paper']}' is not one of papers: {', '.join(data['papers'])}")
        if table["condition"] not in CONDITIONS:
            _fail(path, f"{key}.condition", f"'{table['condition']}' is not one of {', '.join(CONDITIONS)}")
        for j, row in enumerate(table["rows"]):
            rkey = f"{key}.rows.{j}"
            if row["method"] not in data["methods"]:
                _fail(path, f"{rkey}.method", f"'{row['method']}' is not declared under methods")
            if row.get("paper", table["paper"]) not in data["papers"]:
                _fail(path, f"{rkey}.paper", f"'{row['paper']}' is not one of papers: {', '.join(data['papers'])}")
            if row.get("condition", table["condition"]) not in CONDITIONS:
                _fail(path, f"{rkey}.condition", f"'{row['condition']}' is not one of {', '.join(CONDITIONS)}")
            for metric in row:
                if metric not in ROW_FIELDS and metric not in data["metrics"]:
                    _fail(path, f"{rkey}.{metric}", "not declared under metrics")
    note_ids = [n["id"] for n in data.get("notes", [])]
    known = {
        "tables": set(ids),
        "conditions": set(CONDITIONS),
        "methods": set(data["methods"]),
        "metrics": set(data["metrics"]),
    }
    for i, note in enumerate(data.get("notes", [])):
        if note["id"] in note_ids[:i]:
            _fail(path, f"notes.{i}.id", f"note id '{note['id']}' is used twice")
        for selector, values in note["applies"].items():
            for value in values:
                if value not in known[selector]:
                    _fail(path, f"notes.{i}.applies.{selector}", f"'{value}' is not a known {selector[:-1]}")


def _flatten(data: dict) -> list[dict]:
    records = []
    for table in data["tables"]:
        for row in table["rows"]:
            for metric, value in row.items():
                if metric in ROW_FIELDS:
                    continue
                records.append(
                    {
                        "table": table["id"],
                        "paper": row.get("paper", table["paper"]),
                        "condition": row.get("condition", table["condition"]),
                        "method": row["method"],
                        "metric": metric,
                        "value": float(value),
                        "source": row.get("source", table["source"]),
                        "url": row.get("url", table["url"]),
                        "verified": row.get("verified", table["verified"]),
                        "note": row.get("note", ""),
                    }
                )
    return records


def load_published(path: str | Path) -> Published:
    """Read and validate ``published.yaml``; bad content raises a one-line :class:`LmacError`."""
    path = Path(path)
    if not path.is_file():
        raise LmacError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise LmacError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    error = best_match(Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        _fail(path, ".".join(str(p) for p in error.absolute_path) or "(top level)", error.message)
    _check(data, path)
    return Published(
        data["papers"],
        data["methods"],
        data["metrics"],
        data.get("notes", []),
        data["tables"],
        str(path),
        _flatten(data),
    )


if __name__ == "__main__":  # python -m lmac.reporting.paper_tables config/published.yaml: validate, count
    import sys

    try:
        published = load_published(sys.argv[1] if len(sys.argv) > 1 else "config/published.yaml")
    except LmacError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    print(f"{published.path}: {len(published.records)} published numbers in {len(published.tables)} tables")
