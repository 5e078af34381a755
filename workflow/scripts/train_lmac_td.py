from pathlib import Path

from lmac.data.noise import noise_source
from lmac.explainers.train_lmac_td import train_lmac_td
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params


def step():
    noise = noise_source(p.noise, sm.input.get("wham"), p.sample_rate, p.seed) if p.cfg["noise"] else None
    # the pre-trained encoder/decoder of rule pretrain_lmac_td_encoder_decoder, when the config asks for it
    cfg = (
        {**p.cfg, "pretrained_encoder_decoder": sm.input.encoder_decoder} if sm.input.get("encoder_decoder") else p.cfg
    )
    train_lmac_td(
        str(Path(sm.input.manifest).parent),
        sm.input.classifier,
        sm.output.model,
        sm.output.history,
        p.work,
        cfg,
        float(sm.wildcards.alpha),
        p.seed,
        p.device,
        noise,
        noise_cfg=p.noise,
    )


run_step(sm, step)
