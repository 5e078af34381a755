from lmac.explainers.train_lmac import LmacFTJob
from lmac.jobs import run_rule

run_rule(snakemake, LmacFTJob)  # noqa: F821 (injected by Snakemake)
