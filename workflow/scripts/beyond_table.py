from lmac.reporting import beyond_tables
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
out, kind = sm.output, sm.params.kind


def step():
    args = dict(n_boot=sm.params.n_boot, seed=sm.params.seed)
    per_sample = list(sm.input.per_sample)
    if kind == "listenability":
        beyond_tables.write_listenability(per_sample, out.csv, out.md, out.tex, **args)
    elif kind == "roundtrip":
        beyond_tables.write_roundtrip(per_sample, out.csv, out.md, out.tex, **args)
    else:
        beyond_tables.write_robustness(per_sample, out.csv, out.ranks, out.md, out.tex, **args)


run_step(sm, step)
