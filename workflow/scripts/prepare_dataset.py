from lmac.data.prepare import prepare_dataset
from lmac.jobs import prepare_settings
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
out = str(sm.output.audio).rsplit("/", 1)[0]
run_step(sm, lambda: prepare_dataset(sm.input[0], out, **prepare_settings(sm.params.dataset)))
