from lmac.sanity import figures, summary
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
out = sm.output
CHECKS = {  # params.check -> (group keys, table title, figure)
    "cascading": (
        summary.CASCADING_KEYS,
        "Cascading model randomisation: similarity to the original explanation",
        figures.cascading_figure,
    ),
    "data_randomisation": (
        summary.DATA_KEYS,
        "Data randomisation: permuted-label classifier vs true-label classifier",
        figures.data_randomisation_figure,
    ),
    "random_logit": (
        summary.RANDOM_LOGIT_KEYS,
        "Random logit: explanation of a random other class vs the predicted class",
        None,
    ),
}


def step():
    keys, title, figure = CHECKS[sm.params.check]
    table = summary.write_summary(
        list(sm.input.per_clip),
        keys,
        title,
        out.rows,
        out.csv,
        out.md,
        out.tex,
        out.html,
        sm.params.n_boot,
        sm.params.seed,
    )
    if figure is not None:
        figure(table, out.png, out.pdf)


run_step(sm, step)
