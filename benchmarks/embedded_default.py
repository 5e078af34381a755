"""Wall time and peak memory of the whole workflow on the embedded default, from scratch.

Runs ``snakemake --cores N`` on config/config.yaml in a fresh temporary working directory (so
nothing is reused from an earlier run), then reports the wall time, the peak resident memory
of the largest process (``getrusage(RUSAGE_CHILDREN).ru_maxrss``: Snakemake runs each job as a
child process, so this is the hungriest job or Snakemake itself), each rule's time from the
``benchmarks/*.tsv`` files Snakemake wrote, and the machine. Usage:

    .venv/bin/python benchmarks/embedded_default.py [--cores 2] [--out benchmarks/embedded_default.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "embedded_default.json"))
    args = parser.parse_args()
    snakemake = Path(sys.executable).with_name("snakemake")
    with tempfile.TemporaryDirectory(prefix="lmac-bench-") as tmp:
        shutil.copytree(ROOT / "config", Path(tmp) / "config")
        cmd = [str(snakemake), "--snakefile", str(ROOT / "workflow" / "Snakefile"), "--directory", tmp,
               "--cores", str(args.cores), "--workflow-profile", "none", "--resources", "gpu=1"]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
            return proc.returncode
        rules = {}
        bench_dir = Path(tmp, "benchmarks")
        for tsv in sorted(bench_dir.rglob("*.tsv")):
            header, values = tsv.read_text().splitlines()[:2]
            row = dict(zip(header.split("\t"), values.split("\t")))
            job = str(tsv.relative_to(bench_dir).with_suffix(""))
            rules[job] = {"seconds": float(row["s"]), "max_rss_mb": float(row["max_rss"])}
        table = Path(tmp, "results", "tables", "metrics.md").read_text()
        accuracy = json.loads(Path(tmp, "results", "classifier", "metrics.json").read_text())["test_accuracy"]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = {
        "wall_seconds": round(wall, 1), "peak_rss_mb": round(peak_mb), "cores": args.cores,
        "classifier_test_accuracy": accuracy, "rules": rules,
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "metrics_table": table,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"embedded default: {wall / 60:.1f} min wall, peak RSS {peak_mb:.0f} MB on {args.cores} cores; "
          f"classifier test accuracy {100 * accuracy:.1f} %")
    for name, row in rules.items():
        print(f"  {name}: {row['seconds']:.1f} s, max RSS {row['max_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
