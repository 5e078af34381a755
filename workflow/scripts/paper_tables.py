from lmac.reporting.paper_rendering import write_paper_tables
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(
    sm,
    lambda: write_paper_tables(
        sm.input.metrics,
        sm.input.published,
        sm.output.md,
        sm.output.tex,
        sm.output.csv,
        sm.input.classifier_metrics,
        sm.params.dataset,
    ),
)
