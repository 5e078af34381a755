from lmac.reporting.beyond_tables import write_table
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# the rule's outputs (csv, md, tex; robustness also ranks) are the writer's out_* arguments
outputs = {f"out_{name}": path for name, path in sm.output.items()}
run_step(
    sm,
    lambda: write_table(sm.params.kind, list(sm.input.per_sample), sm.params.n_boot, sm.params.seed, **outputs),
)
