from pathlib import Path

from lmac.data.noise import noise_source
from lmac.explainers.lmac_td_autoencoder import pretrain_encoder_decoder
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params


def step():
    noise = noise_source(p.noise, sm.input.get("wham"), p.sample_rate, p.seed) if p.cfg["noise"] else None
    pretrain_encoder_decoder(
        str(Path(sm.input.manifest).parent),
        sm.output.model,
        sm.output.history,
        p.work,
        p.cfg,
        p.seed,
        p.device,
        noise,
        noise_cfg=p.noise,
        sample_rate=p.sample_rate,
    )


run_step(sm, step)
