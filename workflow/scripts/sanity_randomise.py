from lmac.sanity.randomise import write_randomised_classifier
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(
    sm,
    lambda: write_randomised_classifier(sm.input.classifier, int(sm.wildcards.step), sm.params.seed, sm.output.model),
)
