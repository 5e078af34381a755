"""Explanation time per clip for every method, at the embedded scale and at paper scale.

Every method explains the same batch of clips through the one ``Explainer`` interface; the time
is one ``explain`` call (after a warm-up call) divided by the batch size, median over repeats.
Weights are random: the time of a forward/backward pass does not depend on their values.

Scales: ``embedded`` (CNN14 width 1/16, 3 s clips, the embedded default's LMAC-TD size) and
``paper`` (CNN14 width 1, 5 s clips, the paper's L-MAC decoder and the published LMAC-TD size).
Devices: CPU always, CUDA when present. Usage:

    .venv/bin/python benchmarks/explanation_time.py [--scales embedded paper] [--batch 4] [--repeats 3]
        [--methods lmac lmac_td saliency ...] [--out benchmarks/explanation_time.json]
    .venv/bin/python benchmarks/explanation_time.py --flops --batch 1 --out benchmarks/explanation_flops.json

Writes a JSON report and prints a Markdown table (method × scale/device, ms per clip, and the
speed-up of L-MAC over IG). ``--flops`` counts instead the floating-point operations of one
``explain`` call per clip (``torch.utils.flop_counter``: convolutions and matrix products, forward
and backward): machine-independent, it bounds the speed-up over IG that any device can show.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from bench_setup import add_common_arguments, machine, settings
from torch.utils.flop_counter import FlopCounterMode

from lmac.classifier.model import AudioClassifier
from lmac.explainers.gradient import BASELINES, build_baseline
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import build_lmac_td


def build(method: str, classifier: AudioClassifier, scale: str):
    if method == "lmac":
        return LmacExplainer(classifier)
    if method == "lmac_td":  # the embedded default's LMAC-TD size, or the paper preset's
        return build_lmac_td(classifier, scale)
    return build_baseline(method, classifier, {})


def time_method(explainer, wav: torch.Tensor, repeats: int, device: torch.device) -> float:
    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        explainer.explain(wav)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    once()  # warm-up: allocator, cuDNN autotuning, lazy initialisation
    return statistics.median(once() for _ in range(repeats)) / wav.shape[0]


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break Captum's
    ``autograd.grad`` calls; only the global total is needed here."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def count_flops(explainer, wav: torch.Tensor) -> float:
    """Floating-point operations of one ``explain`` call, per clip."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        explainer.explain(wav)
    return counter.get_total_flops() / wav.shape[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["lmac", "lmac_td", *BASELINES])
    parser.add_argument("--flops", action="store_true", help="count GFLOP per clip instead of timing")
    add_common_arguments(parser, batch=4, repeats=3, out="explanation_time.json")
    args = parser.parse_args()
    key, unit = ("gflop_per_clip", "GFLOP/clip") if args.flops else ("ms_per_clip", "ms/clip")
    results = []
    for scale_name, device_name, device, classifier, wav in settings(args):
        for method in args.methods:
            explainer = build(method, classifier, scale_name)
            if isinstance(explainer, torch.nn.Module):
                explainer.to(device).eval()
            if args.flops:
                value = count_flops(explainer, wav) / 1e9
            else:
                value = 1000 * time_method(explainer, wav, args.repeats, device)
            results.append({"method": method, "scale": scale_name, "device": device_name, key: round(value, 2)})
            print(f"{scale_name:9s} {device_name:5s} {method:16s} {value:10.1f} {unit}", flush=True)
            del explainer
    columns = sorted({(r["scale"], r["device"]) for r in results}, key=lambda c: (args.scales.index(c[0]), c[1]))
    lines = [
        "| method | " + " | ".join(f"{s}, {d} ({unit})" for s, d in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    cell = {(r["method"], r["scale"], r["device"]): r[key] for r in results}
    for method in args.methods:
        lines.append(
            f"| {method} | " + " | ".join(f"{cell.get((method, s, d), float('nan')):.1f}" for s, d in columns) + " |"
        )
    speedups = {
        f"{s}/{d}": round(cell[("ig", s, d)] / cell[("lmac", s, d)], 1)
        for s, d in columns
        if ("ig", s, d) in cell and ("lmac", s, d) in cell
    }
    ratio = "ig_flops_over_lmac" if args.flops else "lmac_speedup_over_ig"
    report = {
        "batch": args.batch,
        "repeats": args.repeats,
        "results": results,
        ratio: speedups,
        "machine": machine(),
        "table": "\n".join(lines),
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(lines))
    print(f"{ratio}:", speedups)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
