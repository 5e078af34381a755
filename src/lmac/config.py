"""Configuration checks with one-line messages that name the offending key."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import LmacError
from .yaml_inputs import check, fill_defaults, load_schema, read_yaml, resolve

#: The workflow config's schema, by name (lmac/schemas/config.schema.yaml, also workflow/schemas/).
CONFIG_SCHEMA = "config"


def check_config(config: dict, schema_path: str | Path = CONFIG_SCHEMA) -> None:
    """Raise :class:`LmacError` for the most relevant schema violation, naming its key path."""
    check(config, load_schema(schema_path), None)


def validated_config(config: dict, schema_path: str | Path = CONFIG_SCHEMA) -> dict:
    """``config`` checked (one line naming the key) and completed with the schema's defaults, in place."""
    schema = load_schema(schema_path)
    check(config, schema, None)
    return fill_defaults(config, schema)


def _types(node: dict) -> set[str]:
    kind = node.get("type", [])
    return set([kind] if isinstance(kind, str) else kind)


_YAML_TYPES = {"integer": (int,), "number": (int, float), "boolean": (bool,), "null": (type(None),)}


def _coerce(value: Any, node: dict, defs: dict) -> Any:
    node = resolve(node, defs)
    if isinstance(value, dict):
        props = node.get("properties", {})
        return {k: _coerce(v, props[k], defs) if k in props else v for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v, node.get("items", {}), defs) for v in value] if "items" in node else value
    types = _types(node)
    if not isinstance(value, str) or "string" in types or not types:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, str) and "number" in types:  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            parsed = float(value)
        except ValueError:
            return value
    wanted = tuple(t for name in types for t in _YAML_TYPES.get(name, ()))
    # bool is an int in Python: "true" must not pass for an integer key
    if isinstance(parsed, wanted) and not (isinstance(parsed, bool) and bool not in wanted):
        return parsed
    return value


def coerce_overrides(config: dict, overrides: Mapping, schema_path: str | Path = CONFIG_SCHEMA) -> dict:
    """``config`` with the scalars that ``--config`` gave as strings turned into the schema's types.

    Snakemake parses a nested ``--config key='{a: 6}'`` with YAML's base loader, so 6 arrives as '6';
    a key the schema types as a number, boolean or null gets the YAML value back. Only keys given in
    ``overrides`` are touched: a quoted number in a config file stays the schema error it is.
    """
    schema = load_schema(schema_path)
    defs = schema.get("$defs", {})

    def merge(target: dict, given: Mapping, node: dict) -> None:
        props = resolve(node, defs).get("properties", {})
        for key, value in given.items():
            if key not in props or key not in target:
                continue
            if isinstance(value, Mapping) and isinstance(target[key], dict):
                merge(target[key], value, props[key])
            else:
                target[key] = _coerce(target[key], props[key], defs)

    merge(config, overrides, schema)
    return config


RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def run_name(config: Mapping, configfiles: Sequence[str | Path], overrides: Mapping) -> str:
    """The name of the run folder (``results/<run>/``, ``logs/<run>/``, ``benchmarks/<run>/``).

    ``run`` as given on the command line (``--config run=NAME``) or by a ``--configfile`` that sets
    it; else the stem of the last ``--configfile`` (``--configfile tiny.yaml`` -> ``tiny``); else the
    default config's ``run``. Other ``--config`` overrides change what a run computes, so unless they
    name the run they add a digest of themselves (``embedded-1a2b3c4d``): a run with overrides never
    overwrites, nor is satisfied by, the run without them.
    """
    given = {k: v for k, v in overrides.items() if k != "run"}
    if "run" in overrides:
        name, digest = overrides["run"], None
    else:
        files = [Path(f) for f in configfiles]
        sets_run = any("run" in (read_yaml(f, "config file") or {}) for f in files if f.is_file())
        name = config.get("run") if sets_run or not files else files[-1].stem
        digest = (
            hashlib.sha256(json.dumps(given, sort_keys=True, default=str).encode()).hexdigest()[:8] if given else None
        )
    if not isinstance(name, str) or not RUN_NAME.match(name):
        raise LmacError(
            f"config key 'run': {name!r} is not a usable folder name "
            "(letters, digits, '.', '_' and '-', not starting with '.', '_' or '-')"
        )
    return f"{name}-{digest}" if digest else name


def synthetic_id(config: Mapping) -> str:
    """A digest of every setting the synthetic dataset depends on: runs that agree on them share it."""
    dataset = config["dataset"]
    settings = {
        "synthetic": dataset.get("synthetic", {}),
        "sample_rate": dataset["sample_rate"],
        "clip_seconds": dataset["clip_seconds"],
        "frontend": config["frontend"],
        "seed": config["seed"],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def schema_rows(schema_path: str | Path = CONFIG_SCHEMA) -> list[tuple[str, str, str, str]]:
    """(key, type or values, default, description) for every key of the schema, depth first."""
    schema = load_schema(schema_path)
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str]] = []

    def walk(node: dict, key: str) -> None:
        node = resolve(node, defs)
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
            default = (
                "null"
                if node["default"] is None
                else yaml.safe_dump(node["default"], default_flow_style=True).strip().removesuffix("...").strip()
            )
        rows.append((key, kind, default, node.get("description", "")))

    walk(schema, "")
    return rows


def schema_markdown(schema_path: str | Path = CONFIG_SCHEMA) -> str:
    lines = ["| key | type / values | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, description in schema_rows(schema_path):
        lines.append(f"| `{key}` | {kind} | {f'`{default}`' if default else ''} | {description} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m lmac.config [SCHEMA]: print the key table for config/README.md
    import sys

    print(schema_markdown(*sys.argv[1:2]))
