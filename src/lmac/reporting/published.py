"""The published numbers (``config/published.yaml``), loaded and checked.

The file's shape is ``published.schema.yaml``; the checks here are what a schema cannot express:
every paper, method, metric and condition a table or note names is declared in the file and known
to lmac. ``python -m lmac.reporting.published config/published.yaml`` validates the file and counts
its numbers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LmacError
from ..evaluation.conditions import CONDITIONS
from ..yaml_inputs import key_error, load_schema, load_validated
from .tables import ALL_METRICS

#: Classifier metrics (``metrics.json`` fractions, shown in % as published).
CLASSIFIER_METRICS = ("test_accuracy", "valid_accuracy")
CLASSIFIER_METHOD = "classifier"
#: Row keys that are not metric values: the properties the schema names (every other key is a metric).
ROW_FIELDS = tuple(
    load_schema("published")["properties"]["tables"]["items"]["properties"]["rows"]["items"]["properties"]
)


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


def _known_method(method: str) -> bool:
    from ..explainers.gradient import BASELINES  # imports Captum: only when a file is checked
    from ..explainers.registry import is_learned

    return method == CLASSIFIER_METHOD or is_learned(method) or method in BASELINES


def _check_declared(data: dict, path: str) -> None:
    """Methods and metrics lmac runs must be its own; the others must say so (and why)."""
    for name, spec in data["methods"].items():
        if not spec.get("implemented", True):
            if "reason" not in spec:
                raise key_error(path, f"methods.{name}", "'implemented: false' needs a 'reason'")
        elif not _known_method(name):
            raise key_error(path, f"methods.{name}", "not an lmac method; mark it 'implemented: false' with a reason")
    known = (*ALL_METRICS, *CLASSIFIER_METRICS)
    for name, spec in data["metrics"].items():
        if spec.get("computed", True) and name not in known:
            raise key_error(
                path, f"metrics.{name}", f"not an lmac metric ({', '.join(known)}); mark it 'computed: false'"
            )


def _check_paper_condition(data: dict, entry: dict, key: str, path: str) -> None:
    """A table's, or a row's own, paper and condition."""
    if "paper" in entry and entry["paper"] not in data["papers"]:
        raise key_error(path, f"{key}.paper", f"'{entry['paper']}' is not one of papers: {', '.join(data['papers'])}")
    if "condition" in entry and entry["condition"] not in CONDITIONS:
        raise key_error(path, f"{key}.condition", f"'{entry['condition']}' is not one of {', '.join(CONDITIONS)}")


def _check_tables(data: dict, path: str) -> None:
    ids = [t["id"] for t in data["tables"]]
    for i, table in enumerate(data["tables"]):
        if table["id"] in ids[:i]:  # the repeat is the one named
            raise key_error(path, f"tables.{i}.id", f"table id '{table['id']}' is used twice")
        _check_paper_condition(data, table, f"tables.{i}", path)
        for j, row in enumerate(table["rows"]):
            key = f"tables.{i}.rows.{j}"
            if row["method"] not in data["methods"]:
                raise key_error(path, f"{key}.method", f"'{row['method']}' is not declared under methods")
            _check_paper_condition(data, row, key, path)
            for metric in row:
                if metric not in ROW_FIELDS and metric not in data["metrics"]:
                    raise key_error(path, f"{key}.{metric}", "not declared under metrics")


def _check_notes(data: dict, path: str) -> None:
    known = {
        "tables": {t["id"] for t in data["tables"]},
        "conditions": set(CONDITIONS),
        "methods": set(data["methods"]),
        "metrics": set(data["metrics"]),
    }
    ids = [n["id"] for n in data.get("notes", [])]
    for i, note in enumerate(data.get("notes", [])):
        if note["id"] in ids[:i]:
            raise key_error(path, f"notes.{i}.id", f"note id '{note['id']}' is used twice")
        for selector, values in note["applies"].items():
            unknown = [v for v in values if v not in known[selector]]
            if unknown:
                raise key_error(path, f"notes.{i}.applies.{selector}", f"'{unknown[0]}' is not a known {selector[:-1]}")


def _flatten(data: dict) -> list[dict]:
    """One record per published number; a row's own paper, condition, source, url and verified win."""
    records = []
    for table in data["tables"]:
        for row in table["rows"]:
            shared = {k: row.get(k, table[k]) for k in ("paper", "condition", "source", "url", "verified")}
            for metric, value in row.items():
                if metric not in ROW_FIELDS:
                    records.append(
                        {
                            "table": table["id"],
                            "paper": shared["paper"],
                            "condition": shared["condition"],
                            "method": row["method"],
                            "metric": metric,
                            "value": float(value),
                            "source": shared["source"],
                            "url": shared["url"],
                            "verified": shared["verified"],
                            "note": row.get("note", ""),
                        }
                    )
    return records


def load_published(path: str | Path) -> Published:
    """Read and validate ``published.yaml``; bad content raises a one-line :class:`LmacError`."""
    data = load_validated(path, "published")
    path = str(path)
    _check_declared(data, path)
    _check_tables(data, path)
    _check_notes(data, path)
    return Published(
        data["papers"], data["methods"], data["metrics"], data.get("notes", []), data["tables"], path, _flatten(data)
    )


def main(argv: list[str]) -> int:
    """Validate a published-numbers file and count its numbers (``python -m lmac.reporting.published FILE``)."""
    try:
        published = load_published(argv[0] if argv else "config/published.yaml")
    except LmacError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{published.path}: {len(published.records)} published numbers in {len(published.tables)} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
