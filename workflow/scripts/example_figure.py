from lmac.reporting.figures import example_panels
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(sm, lambda: example_panels(
    dict(zip(sm.params.methods, sm.input.explanations)), sm.output.png, sm.params.n_examples,
))
