from lmac.reporting.alpha_ablation import write_alpha_ablation
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# provenance=False: see example_figure.py
run_step(sm, lambda: write_alpha_ablation(sm.input.table, sm.output.png, sm.output.pdf), provenance=False)
