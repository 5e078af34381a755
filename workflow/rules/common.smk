# Config validation and target helpers (no rules here).
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from lmac.config import check_config
from lmac.errors import LmacError

try:
    # a one-line message naming the key, before any job is scheduled
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except LmacError as err:
    raise WorkflowError(str(err)) from None
# fills in the schema's defaults
validate(config, schema="../schemas/config.schema.yaml")

DATASET = config["dataset"]["name"]
METHODS = config["evaluation"]["methods"]
SPLIT = config["evaluation"]["split"]


wildcard_constraints:
    dataset="synthetic|esc50",
    method="|".join(METHODS),
    split="train|valid|test",


def raw_dataset(wildcards):
    return f"resources/{wildcards.dataset}"


def prepared(name):
    return f"results/data/{DATASET}/{name}"


def per_method_files(pattern):
    return expand(pattern, method=METHODS, split=SPLIT)
