from lmac.explainers.train_lmac_td import LmacTDJob
from lmac.jobs import run_rule

run_rule(snakemake, LmacTDJob)  # noqa: F821 (injected by Snakemake)
