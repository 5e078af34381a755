from lmac.explainers.train_lmac import LmacJob
from lmac.jobs import run_rule

run_rule(snakemake, LmacJob)  # noqa: F821 (injected by Snakemake)
