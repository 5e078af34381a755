"""Every YAML input read one way: parsed, checked against its JSON schema, one line per error.

The schemas ship with the package (``lmac/schemas/<name>.schema.yaml``; ``workflow/schemas`` is a
link to that folder, where Snakemake users look for them). An error names the file, the key path
and what is wrong: ``config/claims.yaml: key 'claims.3.rule': 'beats' is not one of [...]``.
Checks a schema cannot express (names declared elsewhere in the file, a margin per metric) stay
small Python checks next to each file's loader and report through :func:`key_error` the same way.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from .errors import LmacError

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def schema_path(name: str) -> Path:
    """The packaged schema ``name`` (``config``, ``published``, ``claims``)."""
    return SCHEMAS / f"{name}.schema.yaml"


@cache
def _schema(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def load_schema(name_or_path: str | Path) -> dict:
    """A schema by name or by path (a copy: callers may resolve and change it)."""
    path = Path(name_or_path) if Path(name_or_path).suffix else schema_path(str(name_or_path))
    return copy.deepcopy(_schema(path.resolve()))


def key_error(source: str | None, key: Iterable | str, message: str) -> LmacError:
    """``source: key 'a.b': message``; the merged workflow config (no one file) reads ``config key 'a.b'``."""
    if not isinstance(key, str):
        key = ".".join(str(part) for part in key) or "(top level)"
    return LmacError(f"{source}: key '{key}': {message}" if source else f"config key '{key}': {message}")


def _finite_number(checker, value) -> bool:
    # NaN and infinity pass Python's float check; no setting of lmac means them
    return Draft202012Validator.TYPE_CHECKER.is_type(value, "number") and math.isfinite(value)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number),
)


def _relevance(error) -> tuple:
    # jsonschema's own order (the highest key first, then the earliest; anyOf/oneOf last), then among
    # errors at one key the schema's plainest rule: a key every entry needs is missing before a key
    # that only the entry's rule needs (if/then, nested deeper in the schema)
    return (-len(error.path), error.path, error.validator not in ("anyOf", "oneOf"), -len(error.schema_path))


def check(data: Any, schema: dict, source: str | None) -> None:
    """Raise the most relevant schema violation of ``data`` as one line naming ``source`` and the key."""
    error = best_match(_Validator(schema).iter_errors(data), key=_relevance)
    if error is not None:
        raise key_error(source, error.absolute_path, error.message)


def _with_defaults(validator_class):
    """A validator that fills in each property's ``default`` before descending (jsonschema's FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_Defaulting = _with_defaults(_Validator)


def fill_defaults(data: dict, schema: dict) -> dict:
    """``data`` (checked already) with every absent key that has a schema default set to it, in place."""
    for _ in _Defaulting(schema).iter_errors(data):
        pass
    return data


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """The parsed YAML of ``path``; a missing, unreadable or malformed file is one line naming it."""
    path = Path(path)
    if path.is_dir():
        raise LmacError(f"{path}: is a folder, not a {what}")
    if not path.is_file():
        raise LmacError(f"{path}: {what} not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise LmacError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise LmacError(f"{path}: not a text file (a {what} is YAML text)") from None
    except OSError as err:
        raise LmacError(f"{path}: cannot read the {what} ({err.strerror})") from None


def load_validated(path: str | Path, schema_name: str, what: str = "file") -> Any:
    """Read ``path`` and check it against the packaged schema ``schema_name``; errors name the file and key."""
    data = read_yaml(path, what)
    check(data, load_schema(schema_name), str(path))
    return data


def subschema(schema: dict, *keys: str) -> dict:
    """The schema of ``keys`` (``"dataset", "synthetic"``) with its own ``$defs``, to check that part alone."""
    defs = schema.get("$defs", {})
    node = schema
    for key in keys:
        node = resolve(node, defs)["properties"][key]
    return {**resolve(node, defs), "$defs": defs}


def resolve(node: dict, defs: dict) -> dict:
    """``node`` with its ``$ref`` (to ``#/$defs/...``) merged in; its own keys win."""
    while "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node
