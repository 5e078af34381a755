from pathlib import Path

from lmac.listening.page import pick_paths, write_listening_page
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
methods, conditions = sm.params.methods, sm.params.conditions
run_step(
    sm,
    lambda: write_listening_page(
        pick_paths(sm.input.explanations, methods, conditions),
        pick_paths(sm.input.scores, methods, conditions),
        sm.params.clips,
        sm.output.html,
        Path(sm.output.audio),
        seed=sm.params.seed,
    ),
    # a rendering of the evaluation's files, which keep their own records (as the figures: example_figure.py)
    provenance=False,
)
