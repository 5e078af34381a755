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
