"""Cluster jobs' requests checked against the partition's nodes before anything is submitted.

SLURM takes a job that asks for more CPUs per GPU than any node of its partition has and leaves it pending
forever (reason ``PartitionConfig``), saying nothing to Snakemake. Before the first submission, every job's
request, computed the way snakemake-executor-plugin-slurm turns resources into sbatch options, is compared with
the largest node of its partition as ``sinfo`` reports it; a request no node can meet fails the run with one line
per rule naming the resource, the largest node's value and the option that lowers it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lmac.errors import LmacError

# one line per node and partition: partition (default marked *), node, CPUs, memory (MB), generic resources
SINFO_ARGS = ["sinfo", "--noheader", "--Node", "--format=%P|%N|%c|%m|%G"]


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    mem_mb: int
    gpus: int


@dataclass(frozen=True)
class Partitions:
    """The nodes of each partition, and the default partition (None: the site has none)."""

    nodes: Mapping[str, tuple[Node, ...]]
    default: str | None

    def candidates(self, partition: str | None) -> tuple[str, tuple[Node, ...]]:
        """(what to call them, nodes) a job of ``partition`` may run on; no partition: the default, else any."""
        if partition is None:
            if self.default is None:
                return "any partition", tuple(n for nodes in self.nodes.values() for n in nodes)
            partition = self.default
        return f"partition {partition}", self.nodes.get(partition, ())


@dataclass(frozen=True)
class Request:
    """What one job asks one node for, as the SLURM plugin submits it."""

    rule: str
    cpus: int
    cpus_from: str  #: the resource that sets ``cpus``: threads, cpus_per_task or cpus_per_gpu
    mem_mb: int | None
    gpus: int
    partition: str | None


def gres_gpus(gres: str) -> int:
    """GPUs in a GRES string: ``gpu:2``, ``gpu:a100:4(S:0-1)``, ``gpu:1,shard:4`` or ``(null)``."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            total += int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return total


def parse_sinfo(text: str) -> Partitions:
    """``sinfo`` lines in :data:`SINFO_ARGS`' format, as partitions of nodes."""
    nodes: dict[str, list[Node]] = {}
    default = None
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.strip().split("|")
        if len(fields) != 5:
            raise LmacError(f"sinfo: unexpected line {line!r} (expected partition|node|cpus|memory|gres)")
        partition, name, cpus, mem, gres = fields
        if partition.endswith("*"):
            partition = default = partition[:-1]
        nodes.setdefault(partition, []).append(Node(name, _count(cpus), _count(mem), gres_gpus(gres)))
    return Partitions({p: tuple(ns) for p, ns in nodes.items()}, default)


def _count(value: str) -> int:
    # sinfo writes "23849" or, for a node whose value varies, "23849+"
    match = re.match(r"\d+", value)
    return int(match.group()) if match else 0


def query_sinfo() -> Partitions:
    try:
        proc = subprocess.run(SINFO_ARGS, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LmacError(f"cannot check jobs against the cluster: {' '.join(SINFO_ARGS)}: {err}") from None
    if proc.returncode != 0:
        raise LmacError(f"cannot check jobs against the cluster: sinfo: {proc.stderr.strip().splitlines()[-1:]}")
    return parse_sinfo(proc.stdout)


def job_request(rule: str, threads: int, resources: Mapping) -> Request:
    """The per-node request of a job with ``threads`` and ``resources``, as the SLURM plugin computes it.

    A GPU job gets ``--cpus-per-gpu`` when ``cpus_per_gpu`` is set, else ``--cpus-per-task``; an explicit
    ``cpus_per_task`` wins over both; a CPU job runs ``tasks`` tasks of ``threads`` CPUs each.
    """
    gpus = int(resources.get("gpu") or 0) or gres_gpus(str(resources.get("gres") or ""))
    tasks = 1 if gpus else int(resources.get("tasks") or 1)
    if resources.get("cpus_per_task"):
        per_task, cpus_from = max(1, int(resources["cpus_per_task"])), "cpus_per_task"
        cpus = tasks * per_task if int(resources["cpus_per_task"]) > 0 else tasks
    elif gpus and resources.get("cpus_per_gpu"):
        cpus, cpus_from = max(1, int(resources["cpus_per_gpu"])) * gpus, "cpus_per_gpu"
    else:
        cpus, cpus_from = tasks * int(threads), "threads"
    if resources.get("mem_mb_per_cpu"):
        mem_mb = int(resources["mem_mb_per_cpu"]) * cpus
    else:
        mem_mb = int(resources["mem_mb"]) if resources.get("mem_mb") else None
    partition = resources.get("slurm_partition") or None
    return Request(rule, cpus, cpus_from, mem_mb, gpus, partition)


def oversized(request: Request, partitions: Partitions) -> list[str]:
    """One line per resource of ``request`` that no node of its partition has enough of."""
    where, nodes = partitions.candidates(request.partition)
    rule = request.rule
    if not nodes:
        known = ", ".join(sorted(partitions.nodes)) or "none"
        return [f"rule {rule}: {where} has no nodes (sinfo lists: {known}); set slurm_partition to one of them"]
    problems = []
    if request.gpus:
        most = max(n.gpus for n in nodes)
        if most < request.gpus:
            problems.append(
                f"rule {rule} asks for {request.gpus} GPU(s) but the largest node of {where} has {most}: "
                + (
                    f"lower it with --set-resources {rule}:gpu={most}"
                    if most
                    else f"give it a GPU partition with --set-resources {rule}:slurm_partition=<partition>"
                )
            )
    # CPUs and memory of nodes that have the GPUs (a GPU job cannot use a CPU-only node's cores)
    able = [n for n in nodes if n.gpus >= request.gpus] or list(nodes)
    cpus = max(n.cpus for n in able)
    if request.cpus > cpus:
        if request.cpus_from == "cpus_per_gpu":
            per_gpu = max(1, cpus // request.gpus)
            how = f"--set-resources {rule}:cpus_per_gpu={per_gpu} --set-threads {rule}={per_gpu}"
        elif request.cpus_from == "cpus_per_task":
            how = f"--set-resources {rule}:cpus_per_task={cpus}"
        else:
            how = f"--set-threads {rule}={cpus}"
        problems.append(
            f"rule {rule} asks for {request.cpus} CPUs ({request.cpus_from}) but the largest node of {where} "
            f"has {cpus}: lower it with {how}"
        )
    mem = max(n.mem_mb for n in able)
    if request.mem_mb is not None and request.mem_mb > mem:
        problems.append(
            f"rule {rule} asks for {request.mem_mb} MB of memory but the largest node of {where} has {mem} MB: "
            f"lower it with --set-resources {rule}:mem_mb={mem}"
        )
    return problems


def check_requests(requests: Iterable[Request], partitions: Partitions) -> None:
    """Raise one :class:`LmacError`, a line per rule and resource, if any request fits no node."""
    ordered = sorted(requests, key=lambda request: request.rule)
    problems = list(dict.fromkeys(p for request in ordered for p in oversized(request, partitions)))
    if problems:
        raise LmacError("\n".join(problems))


def workflow_requests(workflow, attempt: int = 1) -> list[Request]:
    """The request of every job of a Snakemake ``workflow``'s DAG that is to be submitted, at ``attempt``."""
    requests = []
    for job in workflow.dag.needrun_jobs():
        if job.is_local:
            continue
        if attempt == 1:
            resources = job.resources
        else:
            resources = job.rule.expand_resources(job.wildcards_dict, job.input, attempt)
        requests.append(job_request(job.rule.name, resources._cores, resources))
    return requests


def check_slurm_workflow(workflow, warn) -> None:
    """Before a run with the SLURM executor submits anything: every job's first attempt must fit a node.

    Retries ask for more (the rules scale runtime and memory with the attempt): a retry that would fit no node
    is only ``warn``-ed about, since a run whose jobs succeed at once never submits it.
    """
    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is None or plugin.name != "slurm" or workflow.dag is None:
        return
    partitions = query_sinfo()
    if getattr(workflow.executor_settings, "partition_config", None) or os.environ.get("SNAKEMAKE_SLURM_PARTITIONS"):
        # the plugin picks each job's partition from a partition file: one without slurm_partition may go anywhere
        partitions = Partitions(partitions.nodes, default=None)
    check_requests(workflow_requests(workflow), partitions)
    retries = int(getattr(workflow.execution_settings, "retries", 0) or 0)
    warned = set()
    for attempt in range(2, retries + 2):
        for request in sorted(workflow_requests(workflow, attempt), key=lambda request: request.rule):
            problems = [] if request.rule in warned else oversized(request, partitions)
            for problem in problems:  # the first attempt of a rule that fits no node; later ones ask more
                warn(f"attempt {attempt} (a retry): {problem}")
                warned.add(request.rule)
