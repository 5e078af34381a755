from pathlib import Path

from lmac.evaluation.evaluate import evaluate
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(sm, lambda: evaluate(
    str(Path(sm.input.manifest).parent), sm.input.classifier, sm.input.explainer, sm.output.per_sample, sm.output.explanations,
    split_name=sm.wildcards.split, batch_size=p.batch_size, keep_examples=p.n_examples,
    device=p.device, method=sm.wildcards.method,
))
