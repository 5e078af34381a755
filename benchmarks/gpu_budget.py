"""The GPU budget of config/paper.yaml: FLOPs per rule, peak memory and throughput measured, GPU hours estimated.

Counts the FLOPs of one step of every GPU rule at the configuration's size (``budget_units``; on
fake tensors, ``flops.py``), multiplies them by the steps the configuration runs
(``budget_plan``), and estimates GPU hours on one A100 and one H100 from their peak throughput at
a stated utilisation (:data:`GPUS`, :data:`UTILISATION`: estimates, not measurements). The whole
configuration, one seed, and the cheapest meaningful subset (one seed, L-MAC only, no sanity
checks) are totalled. ``--measure`` also runs one real step of each unit (or of those named) at
full size and batch, each in a fresh subprocess, one at a time, recording its time, samples/s and
peak memory (``ru_maxrss``; on CUDA ``max_memory_allocated``) with the device, machine and date;
on a GPU machine this replaces the estimate by a measurement. A paper-size LMAC-TD step needs
~18 GB on a CPU: on a shared machine run measurements where no other large job runs (e.g. under
``flock`` with the others), e.g.::

    .venv/bin/python benchmarks/gpu_budget.py                       # FLOP counts only (a minute)
    .venv/bin/python benchmarks/gpu_budget.py --measure train/lmac train/l2i   # these units, CPU
    .venv/bin/python benchmarks/gpu_budget.py --device cuda --measure   # every unit, on a GPU

Writes ``benchmarks/gpu_budget.json`` (earlier measurements of other units and devices are kept);
``benchmarks/render_docs.py`` renders its tables into the README and docs/reproducing_the_papers.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import budget_plan  # noqa: E402
import budget_units  # noqa: E402
from flops import count_flops  # noqa: E402

#: dense peak TFLOP/s (SXM parts; no sparsity) per precision, from the vendors' data sheets
GPUS = {
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},
    "H100": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
}
#: the fraction of that peak a step is assumed to sustain (replace it by --measure on the GPU). The one
#: GPU time known for this model: SpeechBrain's ESC-50 recipe, 11 s per classifier epoch on an RTX 3090,
#: which by this count is 84 TFLOP per epoch, 21 % of that card's 35.6 TFLOP/s fp32 peak
UTILISATION = 0.2
#: the cheapest meaningful subset: the classifier, L-MAC trained and evaluated in every condition, one seed
CHEAPEST = "one seed, L-MAC only (all)"
#: the paper configuration's precision (fp32 is the reference; the rule tables use it)
PRECISION = "fp32"


def gpu_hours(tflop: float, gpu: str, precision: str = PRECISION, utilisation: float = UTILISATION) -> float:
    return tflop / (GPUS[gpu][precision] * utilisation) / 3600


def subsets(config: dict) -> dict[str, tuple[dict, tuple[str, ...]]]:
    """{name: (config, targets counted)}: the whole configuration, one seed, the cheapest meaningful subset."""
    one_seed = copy.deepcopy(config)
    first = config["seeds"][:1]
    one_seed["seeds"] = first
    one_seed["claims"]["seeds"] = first
    lmac_only = copy.deepcopy(one_seed)
    lmac_only["evaluation"]["methods"] = ["lmac"]
    lmac_only["sanity"]["retrain_methods"] = ["lmac"]
    return {
        "whole configuration (all + sanity)": (config, ("all", "sanity")),
        "the papers' DAG (all)": (config, ("all",)),
        "one seed (all + sanity)": (one_seed, ("all", "sanity")),
        CHEAPEST: (lmac_only, ("all",)),
    }


def count(config: dict, names: list[str]) -> dict[str, int]:
    out = {}
    for name in names:
        out[name] = count_flops(lambda name=name: budget_units.unit(config, name))
        print(f"  {name:32s} {out[name] / 1e12:9.3f} TFLOP per call", flush=True)
    return out


def rows_record(rows: list[budget_plan.RuleWork], unit_flops: dict[str, int]) -> list[dict]:
    return [
        {
            "rule": r.rule,
            "target": r.target,
            "jobs": r.jobs,
            "steps": r.steps,
            "units": r.units,
            "tflop": budget_plan.rule_flops(r, unit_flops) / 1e12,
        }
        for r in rows
    ]


def totals(rows: list[dict]) -> dict:
    tflop = sum(r["tflop"] for r in rows)
    return {
        "tflop": tflop,
        "jobs": sum(r["jobs"] for r in rows),
        "gpu_hours": {g: {p: gpu_hours(tflop, g, p) for p in GPUS[g]} for g in GPUS},
    }


def config_name(path: str) -> str:
    """The config file as the docs name it: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(HERE.parent)) if resolved.is_relative_to(HERE.parent) else str(resolved)


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def measure_one(config: dict, name: str, device: str, repeats: int) -> dict:
    """One unit's real steps in this process: the first (warm-up) and the median of ``repeats`` more."""
    budget_units.DEVICE = torch.device(device)
    torch.manual_seed(0)
    step = budget_units.unit(config, name)

    def timed() -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    first = timed()
    seconds = sorted(timed() for _ in range(repeats))[repeats // 2] if repeats else first
    n = budget_units.samples(config, name)
    return {
        "device": torch.cuda.get_device_name(0)
        if device.startswith("cuda")
        else f"cpu ({torch.get_num_threads()} threads)",
        "seconds_per_call": round(seconds, 3),
        "first_call_seconds": round(first, 3),
        "samples_per_call": n,
        "samples_per_s": round(n / seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cuda_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device.startswith("cuda") else None,
        "date": date.today().isoformat(),
        "machine": machine(),
    }


def measure(config_path: str, names: list[str], device: str, repeats: int) -> dict[str, dict]:
    """Each unit in a fresh subprocess, one after another (a paper-size step may need ~18 GB)."""
    out = {}
    for name in names:
        cmd = [sys.executable, __file__, "--config", config_path, "--device", device, "--repeats", str(repeats)]
        proc = subprocess.run([*cmd, "--measure-unit", name], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"measuring {name} failed:\n{proc.stderr[-3000:]}")
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        m = out[name]
        print(
            f"  {name:32s} {m['seconds_per_call']:8.2f} s per call, {m['samples_per_s']:8.2f} samples/s, "
            f"peak RSS {m['peak_rss_mb']} MB" + (f", CUDA peak {m['cuda_peak_mb']} MB" if m["cuda_peak_mb"] else ""),
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE.parent / "config" / "paper.yaml"))
    parser.add_argument("--out", default=str(HERE / "gpu_budget.json"))
    parser.add_argument("--measure", nargs="*", help="units to run for real (none named: every unit)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=0, help="timed calls after the first (0: the first alone)")
    parser.add_argument("--measure-unit", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    if args.measure_unit:
        budget_plan.plan(config)  # completes the config with the schema's defaults, as the workflow does
        print(json.dumps(measure_one(config, args.measure_unit, args.device, args.repeats)))
        return 0
    t0 = time.monotonic()
    plans = {name: (budget_plan.plan(cfg), targets) for name, (cfg, targets) in subsets(config).items()}
    rows = next(iter(plans.values()))[0]
    names = budget_plan.unit_names(rows)
    print(f"FLOPs of one call of each of {len(names)} units (fake tensors):", flush=True)
    unit_flops = count(config, names)
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    measured = old.get("measured", {})
    if args.measure is not None:
        print("measured (real tensors, one subprocess each):", flush=True)
        for name, m in measure(args.config, args.measure or names, args.device, args.repeats).items():
            measured.setdefault(name, {})[m["device"]] = m
    record = {
        "date": date.today().isoformat(),
        "config": config_name(args.config),
        "machine": machine(),
        "count_seconds": round(time.monotonic() - t0, 1),
        "gpus": GPUS,
        "utilisation": UTILISATION,
        "precision": PRECISION,
        "unit_flops": unit_flops,
        "rules": rows_record(rows, unit_flops),
        "subsets": {
            name: totals([r for r in rows_record(p, unit_flops) if r["target"] in targets])
            for name, (p, targets) in plans.items()
        },
        "measured": measured,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    for name, t in record["subsets"].items():
        h = t["gpu_hours"]
        print(
            f"{name}: {t['tflop'] / 1e3:.0f} PFLOP, {t['jobs']} GPU jobs: estimated {h['A100'][PRECISION]:.0f} A100 h, "
            f"{h['H100'][PRECISION]:.0f} H100 h ({PRECISION}, {UTILISATION:.0%} of peak)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
