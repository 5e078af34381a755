from lmac.listening.kit import KitSettings, write_listening_test
from lmac.listening.page import pick_paths
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
settings = {k: v for k, v in sm.params.settings.items() if k in ("mode", "anchor_hz", "seed")}
run_step(
    sm,
    lambda: write_listening_test(
        pick_paths(sm.input.explanations, sm.params.methods, sm.params.conditions),
        KitSettings(clips=sm.params.clips, **settings),
        sm.output.html,
        sm.output.trials,
        sm.output.audio,
    ),
)
