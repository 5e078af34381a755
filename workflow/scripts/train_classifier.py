from pathlib import Path

from lmac.classifier.pretrained import with_local_paths
from lmac.classifier.train import train_classifier
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
cfg = with_local_paths(p.cfg, dict(sm.input.items()))  # a URL in the config -> its downloaded copy
run_step(
    sm,
    lambda: train_classifier(
        str(Path(sm.input.manifest).parent),
        sm.output.model,
        sm.output.metrics,
        sm.output.history,
        p.work,
        cfg,
        p.frontend,
        p.seed,
        p.device,
        noise_cfg=p.noise,
        wham_dir=sm.input.get("wham"),
    ),
)
