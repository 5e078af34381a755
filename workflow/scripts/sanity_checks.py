from pathlib import Path

from lmac.sanity.checks import SanityJob, run_checks
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
inp, out = sm.input, sm.output


def step():
    # input.retrained lists the retrained decoders in the order of params.retrain_steps
    retrained = dict(zip(sm.params.retrain_steps, inp.get("retrained", [])))
    job = SanityJob.from_config(
        sm.params.config, sm.wildcards.method, sm.params.seed, explainer_path=inp.get("explainer"), retrained=retrained
    )
    run_checks(
        str(Path(inp.manifest).parent),
        inp.classifier,
        job,
        {name: getattr(out, name) for name in ("cascading", "random_logit", "data_randomisation")},
        (inp.permuted, inp.get("permuted_retrained")),
        device=sm.params.device,
    )


run_step(sm, step)
