# One published classifier checkpoint (classifier.init_checkpoint / init_head given as a URL): resumable,
# retried, sha256-checked when pinned, written atomically.
from lmac.data.download import download_file
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(sm, lambda: download_file(sm.params.url, sm.output[0], sm.params.sha256))
