from lmac.reporting.beyond_figures import write_figure
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(sm, lambda: write_figure(sm.params.kind, sm.input.table, sm.output.png, sm.output.pdf))
