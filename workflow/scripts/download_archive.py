# One script for every dataset archive: download (resumable, checksummed), then extract the folder
# that holds params.marker (ESC-50's meta/esc50.csv when the rule names none).
from lmac.data.download import fetch_archive
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params
run_step(
    sm,
    lambda: fetch_archive(p.url, p.sha256, sm.output.archive, sm.output[0], marker=p.get("marker", "meta/esc50.csv")),
)
