from lmac.explainers.lmac_td_autoencoder import AutoencoderJob
from lmac.jobs import run_rule

run_rule(snakemake, AutoencoderJob)  # noqa: F821 (injected by Snakemake)
