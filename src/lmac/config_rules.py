"""Cross-key rules of the workflow config, checked before the first job (one line naming the key).

The JSON schema checks each key alone; these need several keys, the dataset's metadata or the
machine: fold overlaps and empty splits, the device, the methods the sanity checks retrain, what
the claims compare. :func:`plan_workflow` applies them all to the config Snakemake read, so the
workflow's ``common.smk`` only reads the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import devices
from .classifier import pretrained
from .config import coerce_overrides, run_name, validated_config
from .data.prepare import check_splits
from .errors import LmacError
from .explainers.registry import expand_methods, is_learned
from .reporting.claims_spec import Claim, claim_methods, load_claims
from .smoke import mode as smoke_mode

#: ESC-50's folds when its listing is not downloaded yet (the published layout: five folds)
ESC50_FOLDS = (1, 2, 3, 4, 5)


def dataset_folds(config: Mapping, esc50_meta: str | Path | None = None) -> set[int] | None:
    """The folds the dataset has: from the synthetic settings, or ESC-50's listing when present."""
    dataset = config["dataset"]
    if dataset["name"] == "synthetic":
        return set(range(1, int(dataset.get("synthetic", {}).get("n_folds", 5)) + 1))
    if esc50_meta is not None and Path(esc50_meta).is_file():
        try:
            return set(pd.read_csv(esc50_meta, usecols=["fold"])["fold"].astype(int))
        except (ValueError, KeyError, pd.errors.ParserError):
            return None  # a broken listing is prepare_dataset's to report, with its own message
    return set(ESC50_FOLDS)


def check_splits_config(config: Mapping, esc50_meta: str | Path | None = None) -> None:
    """Folds in two splits, and splits holding no clip, as config errors naming the key."""
    splits = config["dataset"]["splits"]
    try:
        check_splits(splits)
    except LmacError as err:
        raise LmacError(f"config key 'dataset.splits': {err}") from None
    folds = dataset_folds(config, esc50_meta)
    if folds is None:
        return
    for name, wanted in splits.items():
        wanted = [wanted] if isinstance(wanted, int) else list(wanted)
        if not set(wanted) & folds:
            raise LmacError(
                f"config key 'dataset.splits.{name}': folds {wanted} hold no clips "
                f"(the {config['dataset']['name']} dataset has folds {sorted(folds)})"
            )


def check_device(device: str, cuda_count: int) -> None:
    """A CUDA device asked for where this machine has none (or fewer): before any job, not inside one."""
    devices.check_device(device, cuda_count, source="config")


def sanity_retrained(config: Mapping, evaluated: list[str]) -> list[str]:
    """The learned methods whose decoder the sanity checks retrain: ``sanity.retrain_methods`` of the evaluated ones.

    A learned method that is configured but not evaluated is skipped (narrowing ``evaluation.methods``
    narrows the retraining with it); a name that is no learned method of this config is an error.
    """
    alphas = config.get("lmac_td", {}).get("alphas", [])
    trainable = [m for m in expand_methods(["lmac", "lmac_ft", "lmac_td"], alphas) if is_learned(m)]
    wanted = expand_methods(config["sanity"]["retrain_methods"], alphas)
    for method in wanted:
        if method not in trainable:
            raise LmacError(
                f"config key 'sanity.retrain_methods': {method} is not a learned method of this "
                f"configuration (they are: {', '.join(trainable)})"
            )
    return [m for m in wanted if m in evaluated]


def evaluated_methods(config: Mapping) -> list[str]:
    """``evaluation.methods`` with ``lmac_td`` standing for one LMAC-TD explainer per ``lmac_td.alphas`` value."""
    return expand_methods(config["evaluation"]["methods"], config.get("lmac_td", {}).get("alphas", []))


def runs_on_gpu(device: str, cuda_available: bool) -> bool:
    """Whether a job run on this machine uses a GPU: a CUDA device asked for, or ``auto`` with one present."""
    return device.startswith("cuda") or (device == "auto" and cuda_available)


@dataclass(frozen=True)
class WorkflowPlan:
    """What a workflow run computes, derived once from its checked config."""

    run: str  #: the run folder's name (results/<run>/)
    methods: list[str]  #: evaluated methods, LMAC-TD expanded per alpha
    sanity_retrained: list[str]  #: learned methods whose decoder the sanity checks retrain
    classifier_downloads: dict[str, str]  #: {classifier config key: local file} of checkpoints given by URL
    published_file: str  #: report.published, or the repository's config/published.yaml
    claims_file: str  #: claims.file, or the repository's config/claims.yaml
    claims: list[Claim]
    claims_methods: list[str]  #: the evaluated methods the claims compare
    claims_conditions: list[str]  #: claims.conditions that are evaluated
    claims_only_seeds: list[int]  #: claims.seeds not in seeds (their evaluations run only the claims' methods)
    smoke_changes: list[str]  #: what smoke mode rewrote ("key old -> new"); empty outside smoke mode


def plan_workflow(
    config: dict,
    overrides: Mapping,
    configfiles: Sequence[str | Path],
    repo_config: str | Path,
    esc50_meta: str | Path | None = None,
) -> WorkflowPlan:
    """Check ``config`` (schema, then the cross-key rules) and fill in its defaults, in place; derive the plan.

    ``overrides`` are the ``--config`` values (nested ones arrive as strings: back to the schema's
    types), ``configfiles`` the ``--configfile`` paths (they name the run), ``repo_config`` the folder
    of the default published and claims files. Every error is one :class:`LmacError` line naming the key.
    """
    coerce_overrides(config, overrides)
    validated_config(config)
    smoke_changes = smoke_mode.apply_smoke(config)
    run = run_name(config, configfiles, overrides) + (smoke_mode.SUFFIX if smoke_mode.enabled(config) else "")
    check_splits_config(config, esc50_meta)
    methods = evaluated_methods(config)
    claims_config = config["claims"]
    claims_file = claims_config.get("file") or str(Path(repo_config) / "claims.yaml")
    claims = load_claims(claims_file)
    return WorkflowPlan(
        run=run,
        methods=methods,
        sanity_retrained=sanity_retrained(config, methods),
        classifier_downloads=pretrained.downloads(config["classifier"]),
        published_file=config["report"].get("published") or str(Path(repo_config) / "published.yaml"),
        claims_file=claims_file,
        claims=claims,
        claims_methods=[m for m in claim_methods(claims) if m in methods],
        claims_conditions=[c for c in claims_config["conditions"] if c in config["evaluation"]["conditions"]],
        claims_only_seeds=[s for s in claims_config["seeds"] if s not in config["seeds"]],
        smoke_changes=smoke_changes,
    )
