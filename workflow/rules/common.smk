# Config validation and target helpers (no rules here).
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from lmac.config import check_config
from lmac.errors import LmacError
from lmac.explainers.registry import expand_methods, is_learned

try:
    # a one-line message naming the key, before any job is scheduled
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except LmacError as err:
    raise WorkflowError(str(err)) from None
# fills in the schema's defaults
validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]["name"]
EVAL = config["evaluation"]
# `lmac_td` in evaluation.methods stands for one LMAC-TD explainer per α
METHODS = expand_methods(EVAL["methods"], config.get("lmac_td", {}).get("alphas", []))
CONDITIONS = EVAL["conditions"]
SEEDS = config["seeds"]
SPLIT = EVAL["split"]


wildcard_constraints:
    dataset="synthetic|esc50",
    method="|".join(METHODS),
    condition="|".join(CONDITIONS),
    split="train|valid|test",
    seed=r"[0-9]+",
    alpha=r"[0-9]+(\.[0-9]+)?",


def raw_dataset(wildcards):
    return f"resources/{wildcards.dataset}"


def prepared(name):
    return f"results/data/{DATASET}/{name}"


def per_method_condition(pattern):
    return expand(pattern, method=METHODS, condition=CONDITIONS, seed=SEEDS)


def run_seed(wildcards):
    """The seed of an explainer training or an evaluation, from its path (any seed, not only `seeds`)."""
    return int(wildcards.seed)


def evaluation_inputs(wildcards):
    """The trained checkpoint for learned methods; interferer archives and ground truth as needed."""
    inputs = {"audio": prepared("audio.npy"), "manifest": prepared("manifest.csv"),
              "classifier": "results/classifier/model.pt"}
    if is_learned(wildcards.method):
        inputs["explainer"] = f"results/explainers/{wildcards.method}/seed{wildcards.seed}/model.pt"
    if wildcards.condition == "in_domain" and config["noise"]["source"] == "wham":
        inputs["wham"] = "resources/wham"
    if wildcards.condition == "speech" and EVAL["speech"] == "ljspeech":
        inputs["ljspeech"] = "resources/ljspeech"
    if DATASET == "synthetic":  # the embedded dataset knows where each clip's event is
        inputs["events"] = "resources/synthetic"
    return inputs


def evaluation_config(wildcards):
    """The config keys EvalJob.from_config reads (as `lmac evaluate` does); only their changes rerun a job."""
    return {"evaluation": EVAL, "noise": config["noise"], "seed": run_seed(wildcards),
            "dataset": {"sample_rate": config["dataset"]["sample_rate"]},
            "report": {"n_examples": config["report"]["n_examples"]},
            "baselines": {wildcards.method: config.get("baselines", {}).get(wildcards.method, {})}}
