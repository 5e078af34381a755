import json

from lmac.reporting.tables import write_tables
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)


def step():
    with open(sm.input.classifier_metrics) as fh:
        accuracy = json.load(fh)["test_accuracy"]
    write_tables(
        list(sm.input.per_sample),
        sm.output.csv,
        sm.output.md,
        sm.output.json,
        accuracy,
        sm.params.n_boot,
        sm.params.seed,
        out_tex=sm.output.tex,
    )


run_step(sm, step)
