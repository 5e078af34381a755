"""Jobs' requests against the nodes ``sinfo`` reports (lmac.cluster), on recorded sinfo output."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import lmac.cluster as cluster
from lmac.cluster import Request, check_requests, gres_gpus, job_request, oversized, parse_sinfo
from lmac.errors import LmacError

# sinfo --noheader --Node --format=%P|%N|%c|%m|%G on a site with a default CPU partition and two GPU ones
SITE = """\
cpu*|c01|64|256000|(null)
cpu*|c02|128|512000+|(null)
gpu|g01|32|192000|gpu:a100:4(S:0-1)
gpu|g02|16|96000|gpu:v100:2,shard:8
small|s01|8|32000|gpu:1
"""
# the one-node CI cluster (tests/slurm_cluster.py) on a 2-core machine
CI = "debug*|lmacnode|2|23849|gpu:1\n"

# resources of the GPU rules as the SLURM profile gives them (threads 4, cpus_per_gpu 4)
GPU_JOB = {"gpu": 1, "cpus_per_gpu": 4, "mem_mb": 16000, "runtime": 600}


def test_parse_sinfo_partitions_default_and_gpus():
    parts = parse_sinfo(SITE)
    assert parts.default == "cpu"
    assert [n.name for n in parts.nodes["cpu"]] == ["c01", "c02"]
    assert [(n.cpus, n.mem_mb, n.gpus) for n in parts.nodes["gpu"]] == [(32, 192000, 4), (16, 96000, 2)]
    assert parts.nodes["cpu"][1].mem_mb == 512000  # "512000+" (a node whose memory varies)
    assert parts.nodes["small"][0].gpus == 1


@pytest.mark.parametrize(
    "gres, gpus", [("(null)", 0), ("gpu:1", 1), ("gpu:a100:4(S:0-1)", 4), ("gpu:2,shard:8", 2), ("gpu", 1)]
)
def test_gres_gpus(gres, gpus):
    assert gres_gpus(gres) == gpus


def test_parse_sinfo_bad_line_names_it():
    with pytest.raises(LmacError, match="unexpected line 'oops'"):
        parse_sinfo("oops\n")


def test_job_request_follows_the_plugin():
    # GPU job with cpus_per_gpu: --gpus=1 --cpus-per-gpu=4
    req = job_request("train_lmac", 4, GPU_JOB)
    assert (req.cpus, req.cpus_from, req.mem_mb, req.gpus, req.partition) == (4, "cpus_per_gpu", 16000, 1, None)
    # two GPUs at 4 CPUs each
    assert job_request("r", 1, {**GPU_JOB, "gpu": 2}).cpus == 8
    # GPU from a GRES string, without cpus_per_gpu: --cpus-per-task=threads
    req = job_request("r", 3, {"gres": "gpu:a100:2", "mem_mb": 1000})
    assert (req.gpus, req.cpus, req.cpus_from) == (2, 3, "threads")
    # CPU job: --ntasks=tasks --cpus-per-task=threads; memory per CPU
    req = job_request("r", 2, {"tasks": 3, "mem_mb_per_cpu": 1000, "slurm_partition": "cpu"})
    assert (req.cpus, req.mem_mb, req.gpus, req.partition) == (6, 6000, 0, "cpu")
    # an explicit cpus_per_task wins over cpus_per_gpu
    req = job_request("r", 4, {**GPU_JOB, "cpus_per_task": 2})
    assert (req.cpus, req.cpus_from) == (2, "cpus_per_task")


def test_the_profile_on_a_two_cpu_node_fails_naming_rule_resource_node_and_fix():
    # the case of issue #19: pending forever with PartitionConfig
    problems = oversized(job_request("train_lmac", 4, GPU_JOB), parse_sinfo(CI))
    assert problems == [
        "rule train_lmac asks for 4 CPUs (cpus_per_gpu) but the largest node of partition debug has 2: "
        "lower it with --set-resources train_lmac:cpus_per_gpu=2 --set-threads train_lmac=2"
    ]


def test_fitting_requests_pass():
    ci = parse_sinfo(CI)
    check_requests([job_request("train_lmac", 1, {**GPU_JOB, "cpus_per_gpu": 1})], ci)
    check_requests([job_request("prepare", 2, {"mem_mb": 23849})], ci)
    site = parse_sinfo(SITE)
    # the GPU partition's largest node, even when another node of it is smaller
    check_requests([job_request("r", 8, {"gpu": 4, "cpus_per_gpu": 8, "slurm_partition": "gpu"})], site)


def test_memory_and_gpus_too_large():
    site = parse_sinfo(SITE)
    (mem,) = oversized(job_request("evaluate", 1, {"mem_mb": 600000}), site)
    assert mem == (
        "rule evaluate asks for 600000 MB of memory but the largest node of partition cpu has 512000 MB: "
        "lower it with --set-resources evaluate:mem_mb=512000"
    )
    (gpus,) = oversized(job_request("r", 1, {"gpu": 8, "cpus_per_gpu": 1, "slurm_partition": "gpu"}), site)
    assert (
        gpus
        == "rule r asks for 8 GPU(s) but the largest node of partition gpu has 4: lower it with --set-resources r:gpu=4"
    )
    # a GPU job in the default CPU partition: no node there has a GPU
    (none,) = oversized(job_request("train_lmac", 1, GPU_JOB), site)
    assert none.startswith("rule train_lmac asks for 1 GPU(s) but the largest node of partition cpu has 0: ")
    assert "slurm_partition=" in none


def test_cpus_are_counted_on_nodes_with_the_gpus():
    # 'small' has 8 CPUs and 1 GPU; 'gpu' needs a node with 4 GPUs: only g01 (32 CPUs) counts for 4 GPUs
    site = parse_sinfo(SITE)
    assert oversized(Request("r", 32, "cpus_per_gpu", None, 4, "gpu"), site) == []
    (cpus,) = oversized(Request("r", 40, "cpus_per_gpu", None, 4, "gpu"), site)
    assert "has 32:" in cpus and "cpus_per_gpu=8" in cpus


def test_unknown_partition_and_no_default():
    site = parse_sinfo(SITE)
    (line,) = oversized(job_request("r", 1, {"slurm_partition": "gpus"}), site)
    assert (
        line == "rule r: partition gpus has no nodes (sinfo lists: cpu, gpu, small); set slurm_partition to one of them"
    )
    # no default partition: any node of any partition may take the job
    no_default = parse_sinfo(SITE.replace("cpu*", "cpu"))
    assert oversized(job_request("r", 1, {"gpu": 4, "cpus_per_gpu": 8}), no_default) == []


def test_check_requests_one_line_per_rule_and_resource():
    ci = parse_sinfo(CI)
    jobs = [job_request(rule, 4, GPU_JOB) for rule in ("train_lmac", "train_lmac", "evaluate")]
    with pytest.raises(LmacError) as err:
        check_requests(jobs, ci)
    lines = str(err.value).splitlines()
    assert [line.split()[1] for line in lines] == ["evaluate", "train_lmac"]  # by rule


def test_the_check_runs_only_for_the_slurm_executor_and_follows_a_partition_file(monkeypatch):
    job = SimpleNamespace(is_local=False, rule=SimpleNamespace(name="train_lmac"), resources=_Resources(GPU_JOB, 4))
    local = SimpleNamespace(is_local=True, rule=SimpleNamespace(name="all"), resources=None)
    dag = SimpleNamespace(needrun_jobs=lambda: [job, local])

    def workflow(executor, partition_config=None):
        return SimpleNamespace(
            executor_plugin=SimpleNamespace(name=executor),
            dag=dag,
            executor_settings=SimpleNamespace(partition_config=partition_config),
            execution_settings=SimpleNamespace(retries=0),
        )

    monkeypatch.delenv("SNAKEMAKE_SLURM_PARTITIONS", raising=False)
    monkeypatch.setattr(cluster, "query_sinfo", lambda: parse_sinfo(SITE))
    cluster.check_slurm_workflow(workflow("local"), print)  # not SLURM: nothing asked of sinfo
    # no partition: the default one, which has no GPU
    with pytest.raises(LmacError, match="largest node of partition cpu has 0"):
        cluster.check_slurm_workflow(workflow("slurm"), print)
    # a partition file lets the plugin choose: the job fits the gpu partition
    cluster.check_slurm_workflow(workflow("slurm", partition_config="partitions.yaml"), print)


class _Resources(dict):
    """A job's evaluated resources as Snakemake hands them over: a mapping, threads in ``_cores``."""

    def __init__(self, values, threads):
        super().__init__(values)
        self._cores = threads


def test_a_retry_too_large_for_every_node_is_a_warning(monkeypatch):
    def expand_resources(wildcards, input, attempt):  # the rules' memory: 16000 MB per attempt
        return _Resources({**GPU_JOB, "cpus_per_gpu": 1, "mem_mb": 16000 * attempt}, 1)

    rule = SimpleNamespace(name="train_lmac", expand_resources=expand_resources)
    job = SimpleNamespace(is_local=False, rule=rule, wildcards_dict={}, input=[], resources=expand_resources({}, [], 1))
    workflow = SimpleNamespace(
        executor_plugin=SimpleNamespace(name="slurm"),
        dag=SimpleNamespace(needrun_jobs=lambda: [job]),
        executor_settings=SimpleNamespace(partition_config=None),
        execution_settings=SimpleNamespace(retries=2),
    )
    monkeypatch.delenv("SNAKEMAKE_SLURM_PARTITIONS", raising=False)
    monkeypatch.setattr(cluster, "query_sinfo", lambda: parse_sinfo(CI))
    warnings = []
    cluster.check_slurm_workflow(workflow, warnings.append)
    assert warnings == [  # once, for the first attempt that fits no node
        "attempt 2 (a retry): rule train_lmac asks for 32000 MB of memory but the largest node of partition debug "
        "has 23849 MB: lower it with --set-resources train_lmac:mem_mb=23849"
    ]
