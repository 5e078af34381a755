import logging

import pandas as pd

from lmac.reporting.claims import write_claims
from lmac.reporting.clip_stats import read_per_sample
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
out = sm.output
log = logging.getLogger("lmac.rule.claims")


def step():
    files = list(sm.input.per_sample)
    # no claimed method evaluated: every comparison is NOT RUN, which the table says
    frame = read_per_sample(files) if files else pd.DataFrame(columns=["condition", "method", "id", "seed", "version"])
    cascading = sm.input.cascading[0] if len(sm.input.get("cascading", [])) else None
    missing = None if cascading else sm.params.missing
    verdicts = write_claims(
        sm.input.claims,
        frame,
        out.csv,
        out.md,
        out.tex,
        cascading,
        sm.params.conditions,
        sm.params.seeds,
        sm.params.n_boot,
        sm.params.seed,
        out_html=out.html,
        cascading_missing=missing,
    )
    for v in verdicts.itertuples():
        log.info("%s: %s (%d passed, %d failed, %d not run)", v.claim, v.verdict, v.passed, v.failed, v.not_run)


run_step(sm, step)
