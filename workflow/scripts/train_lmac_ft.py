from pathlib import Path

from lmac.explainers.train_lmac import train_lmac_ft
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(
    sm,
    lambda: train_lmac_ft(
        str(Path(sm.input.manifest).parent),
        sm.input.classifier,
        sm.input.init,
        sm.output.model,
        sm.output.history,
        p.work,
        p.cfg,
        p.ft,
        p.seed,
        p.device,
        noise_cfg=p.noise,
        wham_dir=sm.input.get("wham"),
    ),
)
