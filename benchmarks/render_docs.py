"""Regenerate the measured parts of the docs from the benchmark records, never by hand.

Reads ``benchmarks/embedded_default.json`` (``embedded_default.py``) and, when present,
``benchmarks/convergence.json`` (``convergence.py``), and rewrites the blocks between
``<!-- generated:NAME:begin -->`` and ``<!-- generated:NAME:end -->`` that ``BLOCKS`` lists:

- ``embedded-default`` in README.md (time, memory, the claims' verdicts),
- ``run``, ``rules``, ``metrics`` and ``claims`` in docs/embedded_default.md (the hand-written discussion
  around them stays as it is),
- ``convergence`` in docs/convergence.md (the default epochs against twice them, LMAC-TD's resynthesis),
- ``gpu-budget`` in README.md (the totals and the cheapest subset) and ``gpu-budget`` in
  docs/reproducing_the_papers.md (every rule, the measurements), from ``benchmarks/gpu_budget.json``
  (``gpu_budget.py``),
- ``smoke-paper`` in README.md and docs/smoke_runs.md (the measured time of ``make smoke-paper``), from
  ``benchmarks/smoke_paper.json`` (``python -m lmac.smoke.paper --record``).

Usage: ``.venv/bin/python benchmarks/render_docs.py``; ``--check`` rewrites nothing and fails when a
generated block differs from what the records give.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def generated_blocks(text: str) -> list[str]:
    """Names of the generated blocks in ``text``, in order."""
    return re.findall(r"<!-- generated:([\w-]+):begin -->", text)


def replace_block(text: str, name: str, content: str, where: str = "text") -> str:
    """``text`` with its generated block ``name`` replaced by ``content`` (the markers stay)."""
    begin, end = f"<!-- generated:{name}:begin -->", f"<!-- generated:{name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{where}: no {begin} … {end} block")
    return pattern.sub(lambda _: f"{begin}\n{content.strip()}\n{end}", text)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def machine(bench: dict) -> str:
    m = bench["machine"]
    return (
        f"{bench['cores']} cores of a {m['cpu_count']}-CPU {m['processor']} machine, no GPU, Python {m['python']}, "
        f"measured on {bench['date']}"
    )


def rule_times(bench: dict) -> list[str]:
    """Per-rule totals: jobs, CPU-side seconds summed over the rule's jobs, the largest memory."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for job, row in bench["rules"].items():
        groups[
            job.split("/")[0] + "/" + job.split("/")[1] if job.startswith("explainers/") else job.split("/")[0]
        ].append(row)
    lines = ["| step (benchmarks/…) | jobs | seconds, summed | max RSS |", "|---|---|---|---|"]
    for name, rows in sorted(groups.items(), key=lambda kv: -sum(r["seconds"] for r in kv[1])):
        lines.append(
            f"| `{name}` | {len(rows)} | {sum(r['seconds'] for r in rows):.0f} | "
            f"{max(r['max_rss_mb'] for r in rows):.0f} MB |"
        )
    return lines


def verdict_lines(bench: dict) -> list[str]:
    claims = bench.get("claims_verdicts") or []
    return [
        f"| `{c['claim']}` | **{c['verdict']}** | {c['passed']} passed, {c['failed']} failed, {c['not_run']} not run |"
        for c in claims
    ]


def readme_block(bench: dict) -> str:
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| `make reproduce`, from scratch after the install ({bench['n_jobs']} jobs + the report) | "
        f"**{minutes(bench['wall_seconds'])}** |",
        f"| of which `snakemake --report` | {bench['report_seconds']:.0f} s |",
        f"| peak memory (largest process) | {bench['peak_rss_mb'] / 1024:.1f} GiB ({bench['peak_rss_mb']} MB) |",
        f"| classifier test accuracy (80 clips) | {100 * bench['classifier_test_accuracy']:.1f} % |",
        "",
        f"Machine: {machine(bench)}, with `.venv/bin/python benchmarks/embedded_default.py --cores 2`.",
        "Per-rule times, the run's metrics and claims tables: [docs/embedded_default.md](docs/embedded_default.md);",
        "convergence of every learned explainer: [docs/convergence.md](docs/convergence.md).",
        "",
    ]
    if bench.get("claims_verdicts"):
        lines += [
            "The papers' claims on this run (`results/embedded/tables/claims.md`; discussed in",
            "[docs/embedded_default.md](docs/embedded_default.md#claims)):",
            "",
            "| claim | verdict | comparisons |",
            "|---|---|---|",
            *verdict_lines(bench),
            "",
        ]
    return "\n".join(lines)


def run_summary(bench: dict) -> str:
    return (
        f"`make reproduce` from scratch: **{minutes(bench['wall_seconds'])}** for {bench['n_jobs']} jobs and the "
        f"report, peak memory {bench['peak_rss_mb']} MB; {machine(bench)}."
    )


def convergence_doc(conv: dict) -> str:
    lines = [
        "Generated by `benchmarks/render_docs.py` from `benchmarks/convergence.json`",
        f"(`benchmarks/convergence.py`, {conv['cores']} cores, {conv['date']}). Every learned explainer is trained",
        "with the configured epochs and with twice as many, on the same data, classifier and LMAC-TD encoder/decoder,",
        "and evaluated on the same clips; a metric counts as converged when the two means differ by no more",
        "than the half-width of the default run's 95 % bootstrap CI.",
        *(
            [
                "The doubled "
                + ", ".join(f"{m} starts from the default side's {s}" for m, s in conv["starts_from_default"].items())
                + ", the model it fine-tunes,",
                "so that it measures its own training, not its initialisation's.",
            ]
            if conv.get("starts_from_default")
            else []
        ),
        "",
        f"**{sum(r['converged'] for r in conv['comparisons'])} of {len(conv['comparisons'])} comparisons converged.**",
        "",
        "| condition | method | metric | default [95 % CI] | 2× epochs | Δ | CI half-width | converged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in conv["comparisons"]:
        lines.append(
            f"| {r['condition']} | {r['method']} | {r['metric']} | {r['default']:.3f} "
            f"[{r['default_ci_low']:.3f}, {r['default_ci_high']:.3f}] | {r['doubled']:.3f} | {r['delta']:+.3f} | "
            f"{r['ci_half_width']:.3f} | {'yes' if r['converged'] else '**no**'} |"
        )
    lines += [
        "",
        "Epochs trained (the best epoch by validation loss is kept):",
        "",
        "| method | default | doubled |",
        "|---|---|---|",
    ]
    for m, n in conv["epochs"]["default"].items():
        lines.append(f"| {m} | {n} | {conv['epochs']['doubled'][m]} |")
    if conv.get("doubled_histories"):
        lines += [
            "",
            "Validation loss / mask mean per epoch of the doubled run (the default run is its first half, up",
            "to the learning-rate schedule, which reacts to the same losses, and float noise):",
            "",
            "| method | epoch: validation loss / mask mean |",
            "|---|---|",
        ]
        for m, h in conv["doubled_histories"].items():
            cells = ", ".join(
                f"{e}: {v:.2f} / {k:.2f}" for e, v, k in zip(h["epoch"], h["valid_loss"], h["valid_mask_mean"])
            )
            lines.append(f"| {m} | {cells} |")
    lines += [
        "",
        "LMAC-TD's resynthesis: SI-SNR of D(E(x)) to x on the validation clips (dB), from the training",
        "histories (`valid_sisnr`; the encoder/decoder pre-training's best epoch):",
        "",
        "| model | default | doubled |",
        "|---|---|---|",
    ]
    for m, v in conv["resynthesis_sisnr_db"]["default"].items():
        lines.append(f"| {m} | {v:.1f} | {conv['resynthesis_sisnr_db']['doubled'][m]:.1f} |")
    return "\n".join(lines + [""])


# -- the GPU budget (benchmarks/gpu_budget.json) --------------------------------------------------


def _hours(tflop: float, budget: dict, gpu: str, precision: str | None = None) -> float:
    return tflop / (budget["gpus"][gpu][precision or budget["precision"]] * budget["utilisation"]) / 3600


def _peaks(budget: dict) -> str:
    return "; ".join(
        f"{gpu} " + ", ".join(f"{p} {v:g}" for p, v in peaks.items()) for gpu, peaks in budget["gpus"].items()
    )


def cpu_peak_mb(budget: dict, units: dict) -> float | None:
    """The largest peak RSS measured on a CPU for any of ``units`` (None when none was measured)."""
    peaks = [
        m["peak_rss_mb"]
        for u in units
        for device, m in budget["measured"].get(u, {}).items()
        if device.startswith("cpu")
    ]
    return max(peaks) if peaks else None


def budget_rules(budget: dict) -> list[str]:
    total = sum(r["tflop"] for r in budget["rules"])
    lines = [
        "| rule | target | jobs | steps | PFLOP | share | peak memory, CPU (measured) | "
        "A100 h (est.) | H100 h (est.) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in budget["rules"]:
        peak = cpu_peak_mb(budget, r["units"])
        lines.append(
            f"| `{r['rule']}` | {r['target']} | {r['jobs']} | {r['steps']:,} | {r['tflop'] / 1e3:,.1f} | "
            f"{100 * r['tflop'] / total:.1f} % | {'–' if peak is None else f'{peak / 1024:.1f} GiB'} | "
            f"{_hours(r['tflop'], budget, 'A100'):,.1f} | {_hours(r['tflop'], budget, 'H100'):,.1f} |"
        )
    return lines


def budget_totals(budget: dict) -> list[str]:
    precisions = list(next(iter(budget["gpus"].values())))
    head = [f"{gpu} h, {p}" for gpu in budget["gpus"] for p in precisions]
    lines = ["| subset | GPU jobs | PFLOP | " + " | ".join(head) + " |", "|---" * (3 + len(head)) + "|"]
    for name, t in budget["subsets"].items():
        hours = [t["gpu_hours"][gpu][p] for gpu in budget["gpus"] for p in precisions]
        lines.append(
            f"| {name} | {t['jobs']} | {t['tflop'] / 1e3:,.0f} | " + " | ".join(f"{h:,.1f}" for h in hours) + " |"
        )
    return lines


def budget_measured(budget: dict) -> list[str]:
    lines = [
        "| unit | device | clips per call | s per call | clips/s | peak RSS | CUDA peak | date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for unit, devices in budget["measured"].items():
        for device, m in devices.items():
            cuda = f"{m['cuda_peak_mb'] / 1024:.1f} GiB" if m.get("cuda_peak_mb") else "–"
            lines.append(
                f"| `{unit}` | {device} | {m['samples_per_call']} | {m['seconds_per_call']:.1f} | "
                f"{m['samples_per_s']:.2f} | {m['peak_rss_mb'] / 1024:.1f} GiB | {cuda} | {m['date']} |"
            )
    return lines


def _dominant(budget: dict) -> str:
    groups: dict[str, float] = defaultdict(float)
    for r in budget["rules"]:
        groups[r["rule"].split(" ")[0]] += r["tflop"]
    rule, tflop = max(groups.items(), key=lambda kv: kv[1])
    return f"`{rule}` is {100 * tflop / sum(groups.values()):.0f} % of the FLOPs"


def _estimate_note(budget: dict) -> str:
    return (
        f"GPU hours are **estimates**: FLOPs ÷ ({100 * budget['utilisation']:.0f} % of the dense peak), peaks in "
        f"TFLOP/s {_peaks(budget)}; the paper configuration runs {budget['precision']}. The TF32 and bf16 columns "
        "assume the same fraction of the tensor-core peak, which convolutions at these batch sizes seldom reach."
    )


def budget_summary(budget: dict) -> str:
    cheapest = budget["subsets"]["one seed, L-MAC only (all)"]
    precision = budget["precision"]
    return "\n".join(
        [
            f"FLOPs of `{budget['config']}` counted by `benchmarks/gpu_budget.py` ({budget['date']}; torch's FLOP "
            "counter, fake tensors, full size) and multiplied by the steps the configuration runs:",
            "",
            *budget_totals(budget),
            "",
            _estimate_note(budget) + f" {_dominant(budget)}.",
            "The cheapest meaningful subset, one seed and L-MAC only (the classifier, L-MAC's training and its",
            f"evaluation in every condition, {cheapest['jobs']} GPU jobs), is about "
            f"**{cheapest['gpu_hours']['A100'][precision]:.1f} A100 hours** or "
            f"**{cheapest['gpu_hours']['H100'][precision]:.1f} H100 hours** in {precision}.",
            "Per rule, and what was measured:",
            "[docs/reproducing_the_papers.md](docs/reproducing_the_papers.md#gpu-budget).",
            "",
        ]
    )


def budget_doc(budget: dict) -> str:
    m = budget["machine"]
    return "\n".join(
        [
            f"Generated by `benchmarks/render_docs.py` from `benchmarks/gpu_budget.json` (`benchmarks/gpu_budget.py "
            f"--config {budget['config']}`, {budget['date']}, {m['cpu_count']} CPUs, torch {m['torch']}; the count "
            f"took {budget['count_seconds']:.0f} s). One step of each rule is built from the package's models and",
            "objectives at full size with random weights, its FLOPs counted on fake tensors (matrix products,",
            "convolutions and attention, forward and backward; not element-wise ops or FFTs; evaluation's",
            "scoring counted as if no row repeated another, an upper bound), and multiplied by the steps:",
            "training steps (+ a validation pass per epoch), evaluation batches, sanity-check explanation batches.",
            _estimate_note(budget),
            "Peak memory is the largest resident set of one real step at the paper's size and batch on a CPU, in",
            "a fresh process (– : not measured; the list below says which steps were).",
            "",
            *budget_rules(budget),
            "",
            "Totals (`all`: the paper's DAG; sanity: `snakemake sanity`; the subsets keep the classifier):",
            "",
            *budget_totals(budget),
            "",
            "Measured (`gpu_budget.py --measure`, one unit per fresh process; s per call is the first call, warm-up",
            "included, unless `--repeats N` timed N more; on a GPU, `--device cuda --measure` adds its rows):",
            "",
            *budget_measured(budget),
            "",
        ]
    )


def _records(root: Path) -> tuple[dict, dict | None, dict | None, dict | None]:
    bench = json.loads((root / "benchmarks" / "embedded_default.json").read_text())
    optional = [root / "benchmarks" / f"{name}.json" for name in ("convergence", "gpu_budget", "smoke_paper")]
    return (bench, *(json.loads(path.read_text()) if path.exists() else None for path in optional))


def smoke_paper_line(smoke: dict) -> str:
    """The measured time of ``make smoke-paper`` (benchmarks/smoke_paper.json, written by its ``--record``)."""
    return (
        f"`make smoke-paper` took **{smoke['workflow_seconds'] / 60:.1f} min** for {smoke['jobs']} jobs and the report "
        f"(measured {smoke['date']} on {smoke['machine']}, `--cores {smoke['cores']}`; the hungriest process peaked at "
        f"{smoke['peak_rss_gib']:.1f} GiB)."
    )


def smoke_paper_doc(smoke: dict, top: int = 12) -> str:
    rows = [f"| `{job}` | {seconds:.0f} |" for job, seconds in list(smoke["job_seconds"].items())[:top]]
    total = sum(smoke["job_seconds"].values())
    return "\n".join(
        [
            smoke_paper_line(smoke),
            "",
            f"The {top} longest jobs (seconds; the {len(smoke['job_seconds'])} jobs with a benchmark file together "
            f"{total / 60:.1f} min of job time):",
            "",
            "| job | s |",
            "|---|---|",
            *rows,
        ]
    )


# Where each generated block lives and what fills it (from embedded_default.json, convergence.json,
# gpu_budget.json, smoke_paper.json); a block whose record is missing (None) is left as it is.
BLOCKS = (
    ("README.md", "embedded-default", lambda bench, conv, budget, smoke: readme_block(bench)),
    ("README.md", "gpu-budget", lambda bench, conv, budget, smoke: budget and budget_summary(budget)),
    ("docs/embedded_default.md", "run", lambda bench, conv, budget, smoke: run_summary(bench)),
    ("docs/embedded_default.md", "rules", lambda bench, conv, budget, smoke: "\n".join(rule_times(bench))),
    ("docs/embedded_default.md", "metrics", lambda bench, conv, budget, smoke: bench["metrics_table"]),
    (
        "docs/embedded_default.md",
        "claims",
        lambda bench, conv, budget, smoke: bench.get("claims_table") or "(not recorded)",
    ),
    ("docs/convergence.md", "convergence", lambda bench, conv, budget, smoke: conv and convergence_doc(conv)),
    ("docs/reproducing_the_papers.md", "gpu-budget", lambda bench, conv, budget, smoke: budget and budget_doc(budget)),
    ("README.md", "smoke-paper", lambda bench, conv, budget, smoke: smoke and smoke_paper_line(smoke)),
    ("docs/smoke_runs.md", "smoke-paper", lambda bench, conv, budget, smoke: smoke and smoke_paper_doc(smoke)),
)


def render(root: Path = ROOT) -> dict[str, str]:
    """{file relative to root: its text with every generated block filled from the records}."""
    records = _records(root)
    texts: dict[str, str] = {}
    for name, block, content in BLOCKS:
        text = texts.get(name) or (root / name).read_text()
        filled = content(*records)
        texts[name] = text if filled is None else replace_block(text, block, filled, name)
    return texts


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for name, text in render(ROOT).items():
        if (ROOT / name).read_text() != text:
            stale.append(name)
            if not check:
                (ROOT / name).write_text(text)
    if check:
        print("stale: " + ", ".join(stale) if stale else "every generated block is up to date")
        return 1 if stale else 0
    print("rendered " + ", ".join(dict.fromkeys(name for name, _, _ in BLOCKS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
