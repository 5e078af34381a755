from lmac.data.prepare import prepare_dataset
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
d = sm.params.dataset
expect = (
    d["esc50"]
    if d["name"] == "esc50"
    else {
        "expect_clips": d["synthetic"]["n_classes"] * d["synthetic"]["clips_per_class"],
        "expect_classes": d["synthetic"]["n_classes"],
    }
)
run_step(
    sm,
    lambda: prepare_dataset(
        sm.input[0],
        str(sm.output.audio).rsplit("/", 1)[0],
        sample_rate=d["sample_rate"],
        clip_seconds=d["clip_seconds"],
        splits=d["splits"],
        normalisation=d["normalisation"],
        label_order=d["label_order"],
        expect_clips=expect["expect_clips"],
        expect_classes=expect["expect_classes"],
    ),
)
