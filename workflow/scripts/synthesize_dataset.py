from lmac.data.synthetic import generate_synthetic_dataset
from lmac.frontend import FrontEndConfig
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(
    sm,
    lambda: generate_synthetic_dataset(
        sm.output[0],
        {**p.cfg, "sample_rate": p.sample_rate, "clip_seconds": p.clip_seconds},
        FrontEndConfig.from_dict({**p.frontend, "sample_rate": p.sample_rate}),
        p.seed,
    ),
)
