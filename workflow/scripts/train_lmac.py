from pathlib import Path

from lmac.explainers.train_lmac import train_lmac
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(
    sm,
    lambda: train_lmac(
        str(Path(sm.input.manifest).parent),
        sm.input.classifier,
        sm.output.model,
        sm.output.history,
        p.work,
        p.cfg,
        p.seed,
        p.device,
        noise_cfg=p.noise,
        wham_dir=sm.input.get("wham"),
    ),
)
