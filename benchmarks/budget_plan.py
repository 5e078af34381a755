"""How many steps of each unit (``budget_units``) every GPU rule of a configuration runs.

Derived from the config as the workflow lays the jobs out (workflow/rules/*.smk, with the methods,
seeds and retrained decoders of :func:`lmac.config_rules.plan_workflow`): a training runs
``epochs × ⌈train clips / batch⌉`` optimiser steps and, after every epoch, ``⌈valid clips / batch⌉``
validation batches; the classifier also scores the validation and test folds once more at the end
(the permuted-label one the training fold too); an evaluation job runs ``versions × ⌈clips /
batch⌉`` batches (one version for clean and in_domain), each with the passes every method shares
and the method's explanation and scores; a sanity-check job explains its ``n_clips`` once per
pass (reference, each randomised block, each retrained decoder, random logit, data randomisation)
after two prediction passes. The clip counts are ESC-50's (``budget_units.dataset_size``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from budget_units import ceil_div, dataset_size, is_class_conditional

from lmac.config_rules import plan_workflow
from lmac.explainers.registry import is_learned
from lmac.sanity.randomise import N_STEPS

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RuleWork:
    """The GPU work of one rule (or one α / method of it): ``jobs`` jobs running ``units`` in all."""

    rule: str
    target: str  # "all" (the paper DAG) or "sanity" (`snakemake sanity`)
    jobs: int
    units: dict[str, int]  # unit name -> calls summed over the jobs; the first counts the rule's steps

    @property
    def steps(self) -> int:
        return next(iter(self.units.values()))


def times(units: dict[str, int], jobs: int) -> dict[str, int]:
    return {u: n * jobs for u, n in units.items()}


def training(config: dict, model: str, epochs: int, batch_size: int) -> dict[str, int]:
    sizes = dataset_size(config)
    return {
        f"train/{model}": epochs * ceil_div(sizes["train"], batch_size),
        f"valid/{model}": epochs * ceil_div(sizes["valid"], batch_size),
    }


def classifier_training(config: dict, epochs: int, permuted: bool = False) -> dict[str, int]:
    bs, sizes = config["classifier"]["batch_size"], dataset_size(config)
    units = training(config, "classifier", epochs, bs)
    # the exported model scores valid and test again (and, trained on permuted labels, the training fold)
    final = ceil_div(sizes["valid"], bs) + ceil_div(sizes["test"], bs)
    units["valid/classifier"] += final + (ceil_div(sizes["train"], bs) if permuted else 0)
    return units


def explainer_section(config: dict, method: str) -> dict:
    if method == "lmac_ft":
        return {**config["lmac"], **{k: v for k, v in config["lmac_ft"].items() if v is not None}}
    return config["lmac_td" if method.startswith("lmac_td_a") else method]


def versions(config: dict, condition: str) -> int:
    return 1 if condition in ("clean", "in_domain") else config["evaluation"]["versions"]


def plan(config: dict) -> list[RuleWork]:
    """Every GPU rule's work for ``config`` (checked and completed in place by ``plan_workflow``)."""
    wf = plan_workflow(config, {}, [], repo_config=ROOT / "config")
    seeds, ev, sanity = list(config["seeds"]), config["evaluation"], config["sanity"]

    def seeds_of(method: str) -> list[int]:
        return seeds + (wf.claims_only_seeds if method in wf.claims_methods else [])

    rows = [RuleWork("train_classifier", "all", 1, classifier_training(config, config["classifier"]["epochs"]))]
    for m in (m for m in wf.methods if is_learned(m)):
        cfg = explainer_section(config, m)
        rule = f"train_lmac_td α={m[len('lmac_td_a') :]}" if m.startswith("lmac_td_a") else f"train_{m}"
        units = training(config, m, cfg["epochs"], cfg["batch_size"])
        rows.append(RuleWork(rule, "all", len(seeds_of(m)), times(units, len(seeds_of(m)))))
    td = config.get("lmac_td", {})
    if any(m.startswith("lmac_td_a") for m in wf.methods) and td.get("encoder_decoder", {}).get("pretrain"):
        ed = td["encoder_decoder"]
        units = training(config, "lmac_td_encoder_decoder", ed["epochs"], ed["batch_size"])
        units["train/lmac_td_encoder_decoder"] = ed["epochs"] * ed["steps_per_epoch"]
        rows.append(RuleWork("pretrain_lmac_td_encoder_decoder", "all", 1, units))
    if "l2i" in wf.methods:
        rows.append(RuleWork("train_nmf", "all", 1, {"nmf": config["nmf"]["iterations"]}))
        rows.insert(len(rows) - 1, rows.pop())  # the dictionary before L2I, as the DAG
    per_version = ceil_div(dataset_size(config)[ev["split"]], ev["batch_size"])
    grouped = ev["group"] == "condition"
    for m in wf.methods:
        runs = [(s, c) for s in seeds for c in ev["conditions"]]
        if m in wf.claims_methods:
            runs += [(s, c) for s in wf.claims_only_seeds for c in wf.claims_conditions]
        batches = sum(versions(config, c) for _, c in runs) * per_version
        units = {f"evaluate/{m}": batches}
        if not grouped:  # each method's job runs the shared passes itself
            units["evaluate/shared"] = units[f"evaluate/{m}"]
        rows.append(RuleWork(f"evaluate {m}", "all", len(runs), units))
    if grouped:
        runs = [(s, c) for s in seeds + wf.claims_only_seeds for c in ev["conditions"]]
        batches = sum(versions(config, c) for _, c in runs) * per_version
        rows.append(RuleWork("evaluate (passes every method shares)", "all", len(runs), {"evaluate/shared": batches}))
    rows.append(
        RuleWork(
            "sanity_permuted_classifier", "sanity", 1, classifier_training(config, sanity["permuted_epochs"], True)
        )
    )
    retrained = list(wf.sanity_retrained)
    if "lmac_ft" in retrained and "lmac" not in retrained:  # FT fine-tunes the retrained L-MAC decoder
        retrained.insert(0, "lmac")
    for m in retrained:
        cfg = explainer_section(config, m)
        variants = len(sanity["retrain_steps"]) + 1  # every retrained step and the permuted-label classifier
        units = training(config, m, sanity["retrain_epochs"], cfg["batch_size"])
        rows.append(
            RuleWork(f"sanity_retrain {m}", "sanity", len(seeds) * variants, times(units, len(seeds) * variants))
        )
    n_batches = ceil_div(sanity["n_clips"], sanity["batch_size"])
    for m in wf.methods:
        again = len(sanity["retrain_steps"]) + 1 if m in wf.sanity_retrained else 0
        cascade = len(sanity.get("cascade_steps") or range(N_STEPS))
        passes = 1 + cascade + 1 + is_class_conditional(config, m) + again
        units = {f"explain/{m}": passes * n_batches, "predict": 2 * n_batches}
        rows.append(RuleWork(f"sanity_checks {m}", "sanity", len(seeds), times(units, len(seeds))))
    return rows


def unit_names(rows: list[RuleWork]) -> list[str]:
    return list(dict.fromkeys(u for r in rows for u in r.units))


def rule_flops(row: RuleWork, unit_flops: dict[str, int]) -> int:
    return sum(n * unit_flops[u] for u, n in row.units.items())
