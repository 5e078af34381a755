"""Cross-key rules of the workflow config, checked before the first job (one line naming the key).

The JSON schema checks each key alone; these need several keys, the dataset's metadata or the
machine: fold overlaps and empty splits, the device, the methods the sanity checks retrain.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from . import devices
from .data.prepare import check_splits
from .errors import LmacError
from .explainers.registry import expand_methods, is_learned

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
