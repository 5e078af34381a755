from lmac.data.download import fetch_archive
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(sm, lambda: fetch_archive(sm.params.url, sm.params.sha256, sm.output.archive, sm.output[0]))
