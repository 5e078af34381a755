from lmac.reporting.example_panels import write_example_panels
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# provenance=False: a figure is redrawn in seconds from inputs that carry their own records; the record
# (~1 s per job) would be a third of `make figures`
run_step(
    sm,
    lambda: write_example_panels(
        dict(zip(sm.params.methods, sm.input.explanations)),
        int(sm.wildcards.example),
        sm.output.png,
        sm.output.pdf,
        frontend=sm.params.frontend,
        condition=sm.wildcards.condition,
    ),
    provenance=False,
)
