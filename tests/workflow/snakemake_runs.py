"""What the workflow tests share: Snakemake run in a subprocess, copies of finished runs, reading what it printed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from esc50_fixture import TINY_CONFIG as TINY  # noqa: F401 (the workflow tests' configuration, from here)

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(
    workdir: Path,
    *args,
    configfile: Path | None = None,
    profile: str | Path | None = "none",
    snakefile: Path | None = SNAKEFILE,
    timeout: float = 300,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """The repository's workflow run in ``workdir`` (its results/, logs/, ... go there), then ``ARGS``.

    ``profile``: the workflow profile ("none": none; None: the workflow's default one). ``snakefile=None``
    runs the Snakefile ``workdir`` holds (a copy of the project). Options a word list follows
    (``--default-resources``, ``--allowed-rules``) go after the targets in ``ARGS``. The result's ``output``
    is stdout and stderr together.
    """
    options = ["--snakefile", snakefile, "--directory", workdir] if snakefile else []
    if configfile is not None:
        options += ["--configfile", configfile]
    if profile is not None:
        options += ["--workflow-profile", profile]
    proc = subprocess.run(
        [*SNAKEMAKE, *map(str, options), *map(str, args)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    proc.output = proc.stdout + proc.stderr
    return proc


def copy_run(workdir: Path, to: Path) -> Path:
    """A copy of a run's working directory to change: outputs, logs and Snakemake's metadata, file times kept,
    so Snakemake finds the same jobs up to date in the copy."""
    shutil.copytree(workdir, to, symlinks=True)
    return to


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
