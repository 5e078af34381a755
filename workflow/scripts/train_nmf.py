from lmac.explainers.nmf import NmfJob
from lmac.jobs import run_rule

run_rule(snakemake, NmfJob)  # noqa: F821 (injected by Snakemake)
