"""What the workflow tests share: Snakemake run in a subprocess, and reading what it printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run_snakemake(*args, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``cwd``; the result's ``output`` is stdout and stderr together."""
    proc = subprocess.run(
        [*SNAKEMAKE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    proc.output = proc.stdout + proc.stderr
    return proc


def show(proc: subprocess.CompletedProcess, tail: int | None = None) -> str:
    """Exit status and output of a run, for an assertion message (the last ``tail`` characters)."""
    output = proc.output if tail is None else proc.output[-tail:]
    return f"exit {proc.returncode}\n--- output ---\n{output}"


def job_counts(output: str) -> dict[str, int]:
    """rule -> number of jobs, from the "Job stats" table Snakemake prints."""
    counts: dict[str, int] = {}
    for line in output.split("Job stats:", 1)[-1].splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts
