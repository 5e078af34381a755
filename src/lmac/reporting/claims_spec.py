"""The claims file (``config/claims.yaml``), loaded and checked into :class:`Claim` objects.

Its shape is ``claims.schema.yaml`` (which keys each rule needs); the checks here are what a schema
cannot express: unique ids, a better direction for every metric a pairwise rule compares, and a
margin or threshold for each metric the claim names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..evaluation import catalogue
from ..yaml_inputs import check, key_error, load_schema, read_yaml

PAIRWISE = ("better", "not_worse")
THRESHOLD = ("below", "above")
RANDOMISATION = ("randomisation_degrades", "randomisation_insensitive")
RULES = (*PAIRWISE, *THRESHOLD, *RANDOMISATION)
# the better direction of every metric a claim can compare (pairwise rules need one)
DIRECTION = catalogue.DIRECTION


@dataclass
class Claim:
    id: str
    statement: str
    source: str
    rule: str
    methods: list[str]
    versus: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    conditions: list[str] | None = None
    margin: dict[str, float] = field(default_factory=dict)
    threshold: dict[str, float] | float | None = None
    decoder: str | None = None


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _per_metric(entry: dict, name: str, metrics: list[str], key: str, source: str) -> dict[str, float]:
    missing = [m for m in metrics if m not in entry[name]]
    if missing:
        raise key_error(source, f"{key}.{name}", f"no value for metric(s) {', '.join(missing)}")
    return {k: float(v) for k, v in entry[name].items()}


def _claim(entry: dict, key: str, source: str) -> Claim:
    """One schema-checked entry as a :class:`Claim`, after the checks across its keys."""
    rule = entry["rule"]
    claim = Claim(str(entry["id"]), entry["statement"], entry["source"], rule, _names(entry["method"]))
    if rule in RANDOMISATION:
        claim.decoder, claim.threshold = entry["decoder"], float(entry["threshold"])
        return claim
    claim.metrics = _names(entry["metrics"])
    undirected = [m for m in claim.metrics if DIRECTION.get(m) is None]
    if undirected and rule in PAIRWISE:
        known = ", ".join(m for m, d in DIRECTION.items() if d is not None)
        raise key_error(source, f"{key}.metrics", f"'{undirected[0]}' has no better direction (known: {known})")
    if entry.get("conditions") is not None:
        claim.conditions = _names(entry["conditions"])
    if rule in THRESHOLD:
        claim.threshold = _per_metric(entry, "threshold", claim.metrics, key, source)
        return claim
    claim.versus = _names(entry["versus"])
    if rule == "not_worse":
        claim.margin = _per_metric(entry, "margin", claim.metrics, key, source)
    return claim


def parse_claims(data, source: str = "claims") -> list[Claim]:
    """Claims from the parsed YAML (``{claims: [...]}``); a one-line :class:`LmacError` names the file and key."""
    check(data, load_schema("claims"), source)
    ids = [str(entry["id"]) for entry in data["claims"]]
    for i, claim_id in enumerate(ids):
        if claim_id in ids[:i]:  # the repeat is the one named
            raise key_error(source, f"claims.{i}.id", f"claim id '{claim_id}' is used twice")
    return [_claim(entry, f"claims.{i}", source) for i, entry in enumerate(data["claims"])]


def load_claims(path: str | os.PathLike) -> list[Claim]:
    return parse_claims(read_yaml(path, "claims file"), str(path))


def claim_methods(claims: Sequence[Claim]) -> list[str]:
    """Every evaluated method the claims compare (randomisation claims read the sanity summary instead)."""
    names = [m for c in claims if c.rule not in RANDOMISATION for m in (*c.methods, *c.versus)]
    return list(dict.fromkeys(names))
