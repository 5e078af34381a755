"""``make smoke-paper``: config/paper.yaml end to end in smoke mode, on this machine, offline.

The stand-in downloads (:func:`lmac.smoke.standins.paper_standins`) are served on the loopback
interface and reach the workflow through its ordinary download rules: a small config overlay
replaces the URLs and digests (and the ESC-50 listing's expected size), nothing else. Then

    snakemake --configfile config/paper.yaml config/smoke.yaml <overlay> all checks listening_test
    snakemake ... --report results/paper-smoke/report.html

run in a working directory of their own (default ``.smoke/paper``, emptied first, Snakemake's output also in
its ``smoke.log``; the stand-ins are
kept in ``.smoke/standins`` and reused), so a smoke run never touches the repository's ``resources/``
or ``results/``. ``device: auto`` replaces the paper's ``cuda`` so the same command runs on a CPU
machine and on a GPU node. Usage:

    python -m lmac.smoke.paper [--cores N] [--workdir DIR] [--record FILE.json] [SNAKEMAKE_ARG ...]

``--record`` writes the wall time, the hungriest process's peak memory, each job's time and the
machine to a JSON file (``benchmarks/smoke_paper.json``). Exit status: Snakemake's.
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
import time
from datetime import date
from pathlib import Path

import yaml

from ..errors import LmacError
from .loopback import serve_files
from .standins import digests, paper_listing_size, paper_standins

REPO = Path(__file__).resolve().parents[3]
#: what a smoke run builds: the papers' results (all), the checks beyond them, the listening-test kit
TARGETS = ("all", "checks", "listening_test")
#: rules whose paper-size job needs most of a CPU machine's memory (~18 GB): it runs alone, so it gets every core
SOLO_RULES = ("train_lmac_td",)


def overlay(base_url: str, files: dict[str, Path], sums: dict[str, str], paper: dict) -> dict:
    """The config keys that point config/paper.yaml at the stand-ins (and let it run on a CPU)."""
    root = files["esc50"].parent

    def url(name: str) -> str:
        return f"{base_url}/{files[name].relative_to(root).as_posix()}"

    n_classes = paper["dataset"]["esc50"]["expect_classes"]
    return {
        "device": "auto",
        "dataset": {
            "esc50": {
                "url": url("esc50"),
                "sha256": sums["esc50"],
                "expect_clips": paper_listing_size(n_classes),
                "expect_classes": n_classes,
            },
            "wham": {"url": url("wham"), "sha256": sums["wham"]},
            "ljspeech": {"url": url("ljspeech"), "sha256": sums["ljspeech"]},
        },
        "classifier": {
            "init_checkpoint": url("embedding_model"),
            "init_checkpoint_sha256": sums["embedding_model"],
        },
    }


def snakemake_command(workdir: Path, configfiles: list[Path], cores: str, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
        "--cores",
        str(cores),
        *extra,
    ]


def tee(command: list[str], log, env: dict) -> int:
    """Run ``command``, its output shown and appended to ``log``; its exit status."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
    return proc.returncode


def machine_memory_mb() -> int:
    """Physical memory, the ceiling of the jobs' summed ``mem_mb`` (no two paper-size trainings at once)."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)


def core_count(cores: str) -> int:
    """The number ``--cores`` stands for (``all``: this machine's)."""
    if cores == "all":
        return os.cpu_count() or 1
    if not str(cores).isdigit() or int(cores) < 1:
        raise LmacError(f"--cores: expected a positive number or 'all', got {cores!r}")
    return int(cores)


def job_seconds(bench_dir: Path) -> dict[str, float]:
    """Wall seconds per job, from the ``benchmark:`` files Snakemake wrote (keyed by their path), longest first."""
    jobs = {}
    for tsv in bench_dir.rglob("*.tsv"):
        lines = tsv.read_text().splitlines()
        if len(lines) >= 2:
            jobs[str(tsv.relative_to(bench_dir).with_suffix(""))] = float(lines[1].split("\t")[0])
    return dict(sorted(jobs.items(), key=lambda kv: -kv[1]))


def run(
    workdir: Path,
    standins_dir: Path,
    cores: str = "all",
    extra: list[str] | None = None,
    paper_config: Path = REPO / "config" / "paper.yaml",
) -> tuple[int, dict]:
    """Build and serve the stand-ins, run the smoke workflow and its report in ``workdir``; (status, record)."""
    n_cores = core_count(cores)
    paper = yaml.safe_load(paper_config.read_text())
    run_folder = f"{paper.get('run') or paper_config.stem}-smoke"
    t0 = time.monotonic()
    files = paper_standins(standins_dir, paper)
    sums = digests(files)
    standins_seconds = time.monotonic() - t0
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    smoke_config = REPO / "config" / "smoke.yaml"
    with serve_files(files["esc50"].parent) as (base_url, _), (workdir / "smoke.log").open("w") as log:
        standins_yaml = workdir / "standins.yaml"
        standins_yaml.write_text(yaml.safe_dump(overlay(base_url, files, sums, paper), sort_keys=False))
        configfiles = [paper_config, smoke_config, standins_yaml]
        resources = [
            "--resources",
            f"mem_mb={machine_memory_mb()}",
            "--set-threads",
            *(f"{r}={n_cores}" for r in SOLO_RULES),
        ]
        t1 = time.monotonic()
        status = tee(snakemake_command(workdir, configfiles, cores, [*TARGETS, *(extra or []), *resources]), log, env)
        if status == 0:
            report = f"results/{run_folder}/report.html"
            status = tee(snakemake_command(workdir, configfiles, cores, ["--report", report]), log, env)
    seconds = time.monotonic() - t1
    jobs = job_seconds(workdir / "benchmarks" / run_folder)
    done = re.findall(r"(\d+) of (\d+) steps", (workdir / "smoke.log").read_text())
    record = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {machine_memory_mb() / 1024:.0f} GiB",
        "cores": cores,
        "status": status,
        "standins_seconds": round(standins_seconds, 1),
        "workflow_seconds": round(seconds, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
        "jobs": int(done[-1][1]) if done else None,  # every Snakemake job; job_seconds: those with a benchmark
        "job_seconds": {k: round(v, 1) for k, v in jobs.items()},
    }
    return status, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmac.smoke.paper", description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="all")
    parser.add_argument("--workdir", type=Path, default=REPO / ".smoke" / "paper")
    parser.add_argument("--standins", type=Path, default=REPO / ".smoke" / "standins")
    parser.add_argument("--record", type=Path, help="write the timing record (JSON) here")
    args, extra = parser.parse_known_args(argv)
    try:
        status, record = run(args.workdir.resolve(), args.standins.resolve(), args.cores, extra)
    except LmacError as err:
        print(f"smoke-paper: {err}", file=sys.stderr)
        return 1
    minutes = record["workflow_seconds"] / 60
    print(f"smoke-paper: {'passed' if status == 0 else 'FAILED'} in {minutes:.1f} min; outputs in {args.workdir}")
    if args.record:
        args.record.write_text(json.dumps(record, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
