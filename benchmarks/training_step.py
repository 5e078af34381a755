"""Training-step time of the learned explainers (L-MAC and LMAC-TD) at embedded and paper scale.

One step = forward through the frozen classifier and the explainer, the training objective,
backward and an Adam update, exactly as the trainers compute it (``train_lmac_td.training_loss``,
``lmac_loss``). Weights are random (a step costs the same whatever they are). The median over
``--repeats`` after one warm-up step, per batch and per clip. CPU always, CUDA when present:

    .venv/bin/python benchmarks/training_step.py [--scales embedded paper] [--batch 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path

import torch
from bench_setup import add_common_arguments, machine, settings

from lmac.classifier.model import AudioClassifier
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_loss import LossWeights, lmac_loss
from lmac.explainers.lmac_td import build_lmac_td
from lmac.explainers.lmac_td_loss import TDLossWeights
from lmac.explainers.train_lmac_td import training_loss


def lmac_step(classifier: AudioClassifier):
    explainer = LmacExplainer(classifier)
    weights = LossWeights.from_config({"preset": "recipe"})

    def loss(wav):
        exp = explainer(wav)
        return lmac_loss(
            classifier.classify_logspec(exp.masked_in),
            classifier.classify_logspec(exp.masked_out),
            exp.target,
            exp.mask,
            weights,
        )[0]

    return explainer.decoder, loss


def lmac_td_step(classifier: AudioClassifier, scale: str, alpha: float):
    explainer = build_lmac_td(classifier, scale, alpha=alpha)
    weights = TDLossWeights.from_config()
    return explainer, lambda wav: training_loss(explainer, wav, weights)[0]


def time_steps(module: torch.nn.Module, loss_fn, wav: torch.Tensor, repeats: int, device: torch.device) -> float:
    module.to(device).train()
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=2e-4)

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        loss = loss_fn(wav)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    step()
    return statistics.median(step() for _ in range(repeats))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, batch=2, repeats=2, out="training_step.json")
    args = parser.parse_args()
    results = []
    for scale_name, device_name, device, classifier, wav in settings(args):
        builds = {
            "lmac": functools.partial(lmac_step, classifier),
            **{f"lmac_td_a{a:g}": functools.partial(lmac_td_step, classifier, scale_name, a) for a in (0.0, 0.75, 1.0)},
        }
        for method, build in builds.items():
            module, loss_fn = build()
            seconds = time_steps(module, loss_fn, wav, args.repeats, device)
            results.append(
                {
                    "method": method,
                    "scale": scale_name,
                    "device": device_name,
                    "batch": args.batch,
                    "s_per_step": round(seconds, 3),
                    "ms_per_clip": round(1000 * seconds / args.batch, 1),
                }
            )
            print(
                f"{scale_name:9s} {device_name:5s} {method:14s} {seconds:8.3f} s/step "
                f"({1000 * seconds / args.batch:.0f} ms/clip)",
                flush=True,
            )
            del module, loss_fn
    Path(args.out).write_text(json.dumps({"results": results, "machine": machine()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
