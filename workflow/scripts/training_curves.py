from lmac.reporting.training_curves import write_training_curves
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# provenance=False: see example_figure.py
run_step(
    sm,
    lambda: write_training_curves(
        dict(zip(sm.params.runs, sm.input.histories)),
        sm.wildcards.model,
        sm.output.png,
        sm.output.pdf,
    ),
    provenance=False,
)
