from lmac.reporting.metric_bars import write_metric_bars
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# provenance=False: see example_figure.py
run_step(sm, lambda: write_metric_bars(sm.input.table, sm.params.kind, sm.output.png, sm.output.pdf), provenance=False)
