"""Wall time and peak memory of the whole workflow on the embedded default, from scratch.

Runs what ``make reproduce`` runs, ``snakemake --cores N`` and then ``snakemake --report``, on
config/config.yaml in a fresh temporary working directory (so nothing is reused from an earlier
run), then reports the wall time, the peak resident memory
of the largest process (``getrusage(RUSAGE_CHILDREN).ru_maxrss``: Snakemake runs each job as a
child process, so this is the hungriest job or Snakemake itself), each rule's time from the
``benchmarks/*.tsv`` files Snakemake wrote, and the machine. Usage:

    .venv/bin/python benchmarks/embedded_default.py [--cores 2] [--out benchmarks/embedded_default.json] [--keep DIR]

``--keep DIR`` runs in DIR (which must not exist) and leaves the finished run there, e.g. for
``benchmarks/convergence.py --default-run DIR``. ``benchmarks/render_docs.py`` regenerates the README's
and docs/embedded_default.md's tables from the JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmac.reporting.claims import overall_verdict  # noqa: E402

RUN = "embedded"  # config/config.yaml's run folder


def claim_verdicts(claims_csv: Path) -> list[dict]:
    """Each claim's verdict from its comparisons (``lmac.reporting.claims.overall_verdict``)."""
    rows = list(csv.DictReader(claims_csv.open()))
    out = []
    for claim in dict.fromkeys(r["claim"] for r in rows):
        verdicts = [r["verdict"] for r in rows if r["claim"] == claim]
        out.append(
            {
                "claim": claim,
                "verdict": overall_verdict(verdicts),
                "passed": verdicts.count("PASS"),
                "failed": verdicts.count("FAIL"),
                "not_run": verdicts.count("NOT RUN"),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "embedded_default.json"))
    parser.add_argument("--keep", help="run in this new folder and keep it")
    args = parser.parse_args()
    snakemake = Path(sys.executable).with_name("snakemake")
    with tempfile.TemporaryDirectory(prefix="lmac-bench-") as scratch:
        tmp = args.keep or scratch
        shutil.copytree(ROOT / "config", Path(tmp) / "config")
        # as `make reproduce` (the default workflow profile: one `gpu` job at a time where a GPU is used)
        base = [
            str(snakemake),
            "--snakefile",
            str(ROOT / "workflow" / "Snakefile"),
            "--directory",
            tmp,
            "--workflow-profile",
            str(ROOT / "workflow" / "profiles" / "default"),
        ]
        t0 = time.monotonic()
        for extra in (["--cores", str(args.cores)], ["--report", f"results/{RUN}/report.html"]):
            proc = subprocess.run(base + extra, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
                return proc.returncode
            if extra[0] == "--cores":
                workflow_wall = time.monotonic() - t0
                steps = re.findall(r"(\d+) of (\d+) steps", proc.stderr)
                n_jobs = int(steps[-1][1]) if steps else None
        wall = time.monotonic() - t0
        rules = {}
        bench_dir = Path(tmp, "benchmarks", RUN)
        for tsv in sorted(bench_dir.rglob("*.tsv")):
            header, values = tsv.read_text().splitlines()[:2]
            row = dict(zip(header.split("\t"), values.split("\t")))
            job = str(tsv.relative_to(bench_dir).with_suffix(""))
            rules[job] = {"seconds": float(row["s"]), "max_rss_mb": float(row["max_rss"])}
        results = Path(tmp, "results", RUN)
        table = (results / "tables" / "metrics.md").read_text()
        claims_table = (results / "tables" / "claims.md").read_text()
        claims_verdicts = claim_verdicts(results / "tables" / "claims.csv")
        accuracy = json.loads((results / "classifier" / "metrics.json").read_text())["test_accuracy"]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = {
        "date": date.today().isoformat(),
        "wall_seconds": round(wall, 1),
        "workflow_seconds": round(workflow_wall, 1),
        "report_seconds": round(wall - workflow_wall, 1),
        "n_jobs": n_jobs,
        "peak_rss_mb": round(peak_mb),
        "cores": args.cores,
        "classifier_test_accuracy": accuracy,
        "rules": rules,
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "metrics_table": table,
        "claims_table": claims_table,
        "claims_verdicts": claims_verdicts,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"embedded default: {wall / 60:.1f} min wall, peak RSS {peak_mb:.0f} MB on {args.cores} cores; "
        f"classifier test accuracy {100 * accuracy:.1f} %"
    )
    for name, row in rules.items():
        print(f"  {name}: {row['seconds']:.1f} s, max RSS {row['max_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
