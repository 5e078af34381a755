"""Wall time of `make figures` on finished results: every table and figure, no training.

Copies a finished run's ``results/`` (without the training work dirs) and ``resources/`` into a
temporary working directory (``copy2`` keeps the modification times, so nothing upstream looks out
of date), checks with a dry run that only figure and table rules would run, then times
``snakemake figures --rerun-triggers mtime --forcerun <FIGURE_RULES of the Makefile>`` there, as
``make figures`` does. The source is only read.
Usage:

    .venv/bin/python benchmarks/figures_time.py [--source .] [--configfile config/config.yaml] [--cores 2]
                                                [--out benchmarks/figures_time.json]
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# rules `make figures` may run: the forced figure/table rules and the `figures` target itself
ALLOWED = {"figures"}


def figure_rules() -> list[str]:
    """FIGURE_RULES from the Makefile, so the benchmark times what `make figures` runs."""
    makefile = (ROOT / "Makefile").read_text()
    return re.search(r"^FIGURE_RULES := (.*?)(?<!\\)$", makefile, re.S | re.M).group(1).replace("\\\n", " ").split()


def job_counts(output: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in output.split("Job stats:", 1)[-1].splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(ROOT), help="working directory of a finished run (read only)")
    parser.add_argument("--configfile", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "figures_time.json"))
    args = parser.parse_args()
    source, rules = Path(args.source).resolve(), figure_rules()
    snakemake = Path(sys.executable).with_name("snakemake")
    with tempfile.TemporaryDirectory(prefix="lmac-figures-") as tmp:
        shutil.copytree(source / "results", Path(tmp, "results"), ignore=shutil.ignore_patterns("work"))
        if (source / "resources").is_dir():
            shutil.copytree(source / "resources", Path(tmp, "resources"))
        base = [
            str(snakemake),
            "--snakefile",
            str(ROOT / "workflow" / "Snakefile"),
            "--directory",
            tmp,
            "--configfile",
            str(Path(args.configfile).resolve()),
            "--workflow-profile",
            "none",
            "--cores",
            str(args.cores),
            "figures",
            "--rerun-triggers",
            "mtime",
            "--forcerun",
            *rules,
        ]
        dry = subprocess.run([*base, "-n"], capture_output=True, text=True)
        planned = job_counts(dry.stdout + dry.stderr)
        extra = sorted(set(planned) - set(rules) - ALLOWED)
        if dry.returncode != 0 or extra:
            print(dry.stdout[-3000:], dry.stderr[-3000:], sep="\n", file=sys.stderr)
            print(
                f"{source}/results is not a finished, up-to-date run for this config: `make figures` would "
                f"also run {', '.join(extra) or '(dry run failed)'}",
                file=sys.stderr,
            )
            return 1
        load = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.run(base, capture_output=True, text=True)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of Snakemake and its jobs: unlike wall time, it does not grow with other load on the machine
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
            return proc.returncode
        ran = job_counts(proc.stdout + proc.stderr)
    report = {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "cores": args.cores,
        "jobs": ran,
        "load_average_before": [round(x, 2) for x in load],
        "source": str(source),
        "configfile": str(args.configfile),
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"make figures: {wall:.1f} s wall, {cpu:.1f} s CPU on {args.cores} cores, {sum(ran.values())} jobs "
        f"(load average before: {load[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
