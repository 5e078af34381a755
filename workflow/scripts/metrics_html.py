import json

from lmac.reporting.html_table import write_html_table
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)


def step():
    with open(sm.input.classifier_metrics) as fh:
        accuracy = json.load(fh)["test_accuracy"]
    write_html_table(sm.input.table, sm.output.html, accuracy)


# provenance=False: a rendering of metrics.csv, whose job keeps the record (see example_figure.py)
run_step(sm, step, provenance=False)
