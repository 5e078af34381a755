from lmac.classifier.train import ClassifierJob
from lmac.jobs import run_rule

run_rule(snakemake, ClassifierJob)  # noqa: F821 (injected by Snakemake)
