from pathlib import Path

from lmac.data.noise import noise_source
from lmac.explainers.train_lmac_td import train_lmac_td
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params


def step():
    noise = noise_source(p.noise, sm.input.get("wham"), p.sample_rate, p.seed) if p.cfg["noise"] else None
    train_lmac_td(str(Path(sm.input.manifest).parent), sm.input.classifier, sm.output.model, sm.output.history,
                  p.work, p.cfg, float(sm.wildcards.alpha), p.seed, p.device, noise, noise_cfg=p.noise)


run_step(sm, step)
