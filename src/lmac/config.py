"""Configuration checks with one-line messages that name the offending key."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .errors import LmacError


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`LmacError` for the most relevant schema violation, naming its key path."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    raise LmacError(f"config key '{key}': {error.message}")


def schema_rows(schema_path: str | Path) -> list[tuple[str, str, str, str]]:
    """(key, type or values, default, description) for every key of the schema, depth first."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str]] = []

    def walk(node: dict, key: str) -> None:
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        if node.get("type") == "object" and "properties" in node:
            if key:
                rows.append((key, "object", "", node.get("description", "")))
            for name, child in node["properties"].items():
                walk(child, f"{key}.{name}" if key else name)
            return
        kind = node.get("type", "")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        if "enum" in node:
            kind = " \\| ".join(str(v) for v in node["enum"])
        default = ""
        if "default" in node:
            default = "null" if node["default"] is None else yaml.safe_dump(
                node["default"], default_flow_style=True).strip().removesuffix("...").strip()
        rows.append((key, kind, default, node.get("description", "")))

    walk(schema, "")
    return rows


def schema_markdown(schema_path: str | Path) -> str:
    lines = ["| key | type / values | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, description in schema_rows(schema_path):
        lines.append(f"| `{key}` | {kind} | {f'`{default}`' if default else ''} | {description} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m lmac.config SCHEMA: print the key table for config/README.md
    import sys

    print(schema_markdown(sys.argv[1]))
