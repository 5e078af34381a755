from pathlib import Path

from lmac.provenance import write_run_record
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
# the job records of this run (its folder, results/<run>/) and of the inputs runs share (resources/)
roots = (str(Path(sm.output[0]).parent), "resources")
# provenance=False: this job's output is itself the record
run_step(
    sm,
    lambda: write_run_record(sm.output[0], sm.params.config, code_dir=sm.scriptdir, record_roots=roots),
    provenance=False,
)
