"""What produced a result: code revision, package versions, machine, device and settings.

Every training and evaluation job writes one JSON record next to its first output (see
:func:`job_record_path`), and the workflow writes a run-level ``results/<run>/provenance.json`` after the
tables. The records travel with the results when DVC moves them, so a number in a table can be
traced back to the code, the environment and the configuration that made it.

Nothing here may fail a job: the caller (``lmac.workflow_step.run_step``) writes the record only
after the outputs exist, and a record that cannot be collected is a warning, not an error.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .io import write_json
from .smoke.mode import enabled as smoke_enabled

FORMAT = 1  # bump when a field changes meaning

# the packages whose versions decide the numbers (the full list is under "installed")
KEY_PACKAGES = (
    "lmac",
    "torch",
    "torchaudio",
    "numpy",
    "scipy",
    "pandas",
    "captum",
    "speechbrain",
    "torchmetrics",
    "soundfile",
    "matplotlib",
    "seaborn",
    "jsonschema",
    "pyyaml",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "dvc",
)
# environment variables that change where or how a job ran (never secrets)
ENV_VARS = (
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_CLUSTER_NAME",
    "SLURM_JOB_PARTITION",
    "SLURM_CPUS_PER_TASK",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
    "PYTHONHASHSEED",
    "CONDA_DEFAULT_ENV",
)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """name -> installed version, None for a package that is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return versions


def installed_packages() -> list[str]:
    """Every installed distribution as ``name==version``, sorted (what ``pip freeze`` lists)."""
    seen = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:  # a broken install can leave metadata without a name
            seen.setdefault(name.lower(), f"{name}=={dist.version}")
    return [seen[k] for k in sorted(seen)]


def _git(path: Path, *args: str) -> str | None:
    try:
        # --no-optional-locks: parallel jobs each run `git status`; none may take the index lock
        proc = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(path), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: str | os.PathLike = ".") -> dict[str, Any] | None:
    """Revision of the git work tree holding ``path``; None outside git (or without git, or commits).

    ``dirty`` is true when tracked files differ from the revision or untracked, not ignored files
    exist: the revision alone then does not name the code that ran.
    """
    path = Path(path)
    if not path.is_dir():
        path = path.parent
    revision = _git(path, "rev-parse", "--verify", "--quiet", "HEAD")
    if not revision:
        return None
    status = _git(path, "status", "--porcelain")
    return {
        "revision": revision,
        "dirty": None if status is None else bool(status),
        "branch": _git(path, "rev-parse", "--abbrev-ref", "HEAD"),
        "describe": _git(path, "describe", "--always", "--dirty", "--tags"),
        "root": _git(path, "rev-parse", "--show-toplevel"),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_bytes": _memory_bytes(),
    }


def python_info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def torch_info() -> dict[str, Any] | None:
    """torch build, CUDA/cuDNN versions and the visible accelerators; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    cuda = torch.cuda.is_available()
    devices = []
    for i in range(torch.cuda.device_count() if cuda else 0):
        props = torch.cuda.get_device_properties(i)
        devices.append(
            {
                "index": i,
                "name": props.name,
                "memory_bytes": props.total_memory,
                "capability": f"{props.major}.{props.minor}",
            }
        )
    mps = getattr(torch.backends, "mps", None)
    return {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cuda_available": cuda,
        "devices": devices,
        "mps_available": bool(mps and mps.is_available()),
        "num_threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }


def plain(obj: Any) -> Any:
    """A JSON-safe copy: mappings and sequences recursively, numbers and strings kept, the rest str()."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        try:
            return plain(obj.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(obj)


def collect(path: str | os.PathLike = ".", **fields: Any) -> dict[str, Any]:
    """The environment record; ``path`` picks the git work tree, ``fields`` (job, config) are added."""
    return {
        "format": FORMAT,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(path),
        "python": python_info(),
        "machine": machine_info(),
        "torch": torch_info(),
        "environment": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "packages": package_versions(),
        "installed": installed_packages(),
        **{k: plain(v) for k, v in fields.items()},
    }


def job_record_path(output: str | os.PathLike) -> Path:
    """Where a job's record goes: beside its first output, with that output's stem.

    ``results/<run>/classifier/model.pt`` -> ``results/<run>/classifier/model.provenance.json``;
    ``results/<run>/evaluation/clean/lmac/seed1234.csv`` -> ``.../lmac/seed1234.provenance.json``;
    a directory output ``resources/synthetic/<id>`` -> ``resources/synthetic/<id>.provenance.json``.
    The first output is unique per job, so records never collide.
    """
    out = Path(output)
    stem = out.name[: -len(out.suffix)] if out.suffix and not out.is_dir() else out.name
    return out.with_name(f"{stem}.provenance.json")


def job_fields(snakemake) -> dict[str, Any]:
    """The job as Snakemake ran it: rule, wildcards, params (its configuration), files and resources."""

    def named(items) -> dict:
        return dict(items.items()) if hasattr(items, "items") else {}

    return {
        "rule": snakemake.rule,
        "wildcards": named(snakemake.wildcards),
        "params": named(snakemake.params),
        "input": list(snakemake.input),
        "output": list(snakemake.output),
        "log": list(snakemake.log),
        "threads": snakemake.threads,
        "resources": {k: v for k, v in named(snakemake.resources).items() if not k.startswith("_")},
        # a smoke run's outputs prove the plumbing only (lmac.smoke): the record says so
        "smoke": smoke_enabled(getattr(snakemake, "config", None) or {}),
    }


def write_job_record(snakemake, seconds: float | None = None, path: str | os.PathLike | None = None) -> Path:
    """Write the record of a finished Snakemake job (default: beside its first output); return its path."""
    path = Path(path) if path is not None else job_record_path(snakemake.output[0])
    code_dir = getattr(snakemake, "scriptdir", None) or "."  # the workflow's checkout, not the job's cwd
    write_json(path, collect(code_dir, job={**job_fields(snakemake), "seconds": seconds}))
    return path


def summarise_records(roots: list[str | os.PathLike]) -> dict[str, Any]:
    """path -> (rule, created, git revision, dirty) for every job record under ``roots``."""
    jobs: dict[str, Any] = {}
    for root in map(Path, roots):
        for record in sorted(root.rglob("*.provenance.json")) if root.is_dir() else []:
            try:
                data = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            git = data.get("git") or {}
            jobs[str(record)] = {
                "rule": (data.get("job") or {}).get("rule"),
                "created": data.get("created"),
                "revision": git.get("revision"),
                "dirty": git.get("dirty"),
            }
    return jobs


def write_run_record(
    path: str | os.PathLike,
    config: Mapping,
    code_dir: str | os.PathLike = ".",
    record_roots: tuple[str, ...] = ("results", "resources"),
) -> dict[str, Any]:
    """The run-level record: environment, the whole configuration, and every job record found.

    ``revisions`` lists the distinct git revisions the job records name; more than one means the
    results were made by different code (a partial rerun after a commit).
    """
    jobs = summarise_records(list(record_roots))
    record = collect(
        code_dir, config=config, jobs=jobs, revisions=sorted({j["revision"] for j in jobs.values() if j["revision"]})
    )
    write_json(path, record)
    return record
