from pathlib import Path

from lmac.evaluation.evaluate import EvalJob, evaluate
from lmac.workflow_step import run_step

sm = snakemake  # noqa: F821 (injected by Snakemake)
inp = sm.input


def step():
    job = EvalJob.from_config(
        sm.params.config, sm.wildcards.method, sm.wildcards.condition, explainer_path=inp.get("explainer"),
        event_masks=str(Path(inp.events) / "meta" / "ground_truth_masks.npz") if inp.get("events") else None,
        wham_dir=inp.get("wham"), ljspeech_dir=inp.get("ljspeech"))
    evaluate(str(Path(inp.manifest).parent), inp.classifier, job, sm.output.per_sample, sm.output.explanations,
             device=sm.params.device)


run_step(sm, step)
