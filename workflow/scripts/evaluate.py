from pathlib import Path

from lmac.evaluation.evaluate import EvalJob, evaluate_methods, learned_checkpoints
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
inp = sm.input


def files(value) -> list[str]:
    """A named input or output as a list (one file for a per-method job, one per method for a grouped one)."""
    return [value] if isinstance(value, str) else list(value)


def step():
    methods = sm.params.methods
    jobs = EvalJob.group_from_config(
        sm.params.config,
        methods,
        sm.wildcards.condition,
        explainer_paths=learned_checkpoints(methods, files(inp.get("explainers", []))),
        event_masks=str(Path(inp.events) / "meta" / "ground_truth_masks.npz") if inp.get("events") else None,
        wham_dir=inp.get("wham"),
        ljspeech_dir=inp.get("ljspeech"),
    )
    outputs = list(zip(files(sm.output.per_sample), files(sm.output.explanations), strict=True))
    evaluate_methods(str(Path(inp.manifest).parent), inp.classifier, jobs, outputs, device=sm.params.device)


# a provenance record beside every method's results, as a per-method job leaves one
run_step(sm, step, record_beside=files(sm.output.per_sample))
