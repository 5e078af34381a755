from pathlib import Path

from lmac.listening.analysis import Claim, write_analysis
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_step(
    sm,
    lambda: write_analysis(
        sm.input.ratings, Path(sm.output.md).parent, sm.params.n_boot, sm.params.seed, Claim(**sm.params.claim)
    ),
)
