from lmac.reporting.claims_figure import claims_figure
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(sm, lambda: claims_figure(sm.input.table, sm.output.png, sm.output.pdf))
