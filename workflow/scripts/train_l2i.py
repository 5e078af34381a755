from lmac.explainers.train_l2i import L2IJob
from lmac.jobs import run_rule

run_rule(snakemake, L2IJob)  # noqa: F821 (injected by Snakemake)
