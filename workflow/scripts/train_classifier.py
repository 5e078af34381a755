from pathlib import Path

from lmac.classifier.train import train_classifier
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(sm, lambda: train_classifier(
    str(Path(sm.input.manifest).parent), sm.output.model, sm.output.metrics, sm.output.history, p.work, p.cfg, p.frontend, p.seed, p.device,
))
