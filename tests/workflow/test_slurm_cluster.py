"""The tiny configuration on a real one-node SLURM cluster, through the SLURM profile and the executor plugin.

``slurm_cluster`` (tests/slurm_cluster.py) runs munge, slurmctld and slurmd on this machine, with one fake GPU.
Snakemake submits with the real sbatch, polls with squeue (no accounting database: see the cluster script) and
each job runs its step with srun inside its allocation. Mid-run, the test cancels the L-MAC training with
``scancel``; the profile's retry resubmits it and the trainer resumes from its work directory. Afterwards
``scontrol show job`` still lists every job (MinJobAge=600): what SLURM allocated to each, and how it ended.

The node has this machine's CPUs (2 in CI) while the profile gives GPU rules 4 CPUs per GPU; the run lowers them
the way the pre-flight check (lmac.cluster) tells a user to, and a second run without that shows the check.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, SNAKEFILE, TINY, show

PROFILE = REPO / "workflow" / "profiles" / "slurm"
# every rule the profile gives a GPU (the keys of its set-resources); the tiny DAG has these
GPU_RULES = set(yaml.safe_load((PROFILE / "profile.yaml").read_text())["set-resources"])
TINY_GPU_RULES = {rule for rule in GPU_RULES if not rule.startswith("sanity")}  # `all` has no sanity checks
CPU_RULES = {"synthesize_dataset", "prepare_dataset"}
LMAC_EPOCHS = 12  # long enough to cancel the training between two epochs
LAST = "results/tiny/work/explainers/lmac/seed1234/last.pt"
MEM_MB = 1500  # per job, constant over attempts: the rules' memory doubles per retry, beyond a small CI node


def _snakemake_argv(workdir: Path, configfile: Path, *extra) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--workflow-profile",
        str(PROFILE),
        "--slurm-status-command",
        "squeue",  # no slurmdbd: sacct is disabled
        "--slurm-init-seconds-before-status-checks",
        "1",
        *map(str, extra),
    ]


def _lowered(cpus: int) -> list[str]:
    """GPU rules at ``cpus`` CPUs per GPU (one --set-resources: it replaces the profile's as a whole)."""
    rules = sorted(GPU_RULES)
    return [
        "--set-threads",
        *[f"{rule}={cpus}" for rule in rules],
        "--set-resources",
        *[f"{rule}:{key}={value}" for rule in rules for key, value in (("cpus_per_gpu", cpus), ("mem_mb", MEM_MB))],
    ]


def _jobs(cluster) -> list[dict[str, str]]:
    """Every job slurmctld still knows, as its ``scontrol show job`` fields, in submission order."""
    jobs = []
    for line in cluster.run("scontrol", "show", "job", "--oneliner").splitlines():
        if line.strip():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            jobs.append(fields)
    return sorted(jobs, key=lambda job: int(job["JobId"]))


def _rule(job: dict[str, str]) -> str:
    return re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", job["Comment"]).group(1)


def _cancel_lmac_training(cluster, workdir: Path, proc: subprocess.Popen, timeout: float = 900) -> str:
    """Wait for the L-MAC training's first epoch in its work dir, then ``scancel`` its job; the job id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (workdir / LAST).exists():
            running = [
                job
                for job in _jobs(cluster)
                if job["JobState"] == "RUNNING" and job.get("Comment", "").startswith("rule_train_lmac_wildcards")
            ]
            if running:
                cluster.run("scancel", running[0]["JobId"])
                return running[0]["JobId"]
        time.sleep(0.2)
    raise AssertionError(f"the L-MAC training never ran with a saved epoch (snakemake exit {proc.poll()})")


@pytest.fixture(scope="module")
def real_slurm_run(slurm_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("real_slurm")
    workdir = root / "work"
    workdir.mkdir()
    config = yaml.safe_load(TINY.read_text())
    config["lmac"]["epochs"] = LMAC_EPOCHS
    configfile = root / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    out = root / "snakemake.out"
    started = time.monotonic()
    with open(out, "w") as log:
        proc = subprocess.Popen(
            _snakemake_argv(workdir, configfile, *_lowered(1)),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=slurm_cluster.env,
        )
        try:
            cancelled = _cancel_lmac_training(slurm_cluster, workdir, proc)
            proc.wait(timeout=1200)
        finally:
            if proc.poll() is None:
                proc.terminate()  # Snakemake cancels its SLURM jobs on the way out
                proc.wait(timeout=60)
    proc.output = out.read_text()
    proc.args = " ".join(proc.args)
    return {
        "proc": proc,
        "workdir": workdir,
        "configfile": configfile,
        "cancelled": cancelled,
        "jobs": _jobs(slurm_cluster),
        "seconds": time.monotonic() - started,
    }


def _tail(run) -> str:
    return show(run["proc"], 12000)


def test_real_slurm_run_completes_every_output(real_slurm_run):
    proc, workdir = real_slurm_run["proc"], real_slurm_run["workdir"]
    assert proc.returncode == 0, _tail(real_slurm_run)
    print(f"real SLURM run: {real_slurm_run['seconds']:.0f} s")
    # every output of the DAG is there and up to date: a dry run finds nothing to do
    dry = subprocess.run(
        _snakemake_argv(workdir, real_slurm_run["configfile"], "-n", *_lowered(1)),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    for path in (
        "results/tiny/tables/metrics.csv",
        "results/tiny/provenance.json",
        "results/tiny/listening/page.html",
        "results/tiny/explainers/lmac_td_a0.75/seed1234/model.pt",
        "results/tiny/evaluation/mixture/lmac/seed1234.csv",
    ):
        assert (workdir / path).is_file(), path


def test_every_cluster_job_went_through_slurm_with_its_gpu(real_slurm_run):
    assert real_slurm_run["proc"].returncode == 0, _tail(real_slurm_run)
    jobs = real_slurm_run["jobs"]
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(_rule(job), []).append(job)
    assert set(by_rule) == TINY_GPU_RULES | CPU_RULES, sorted(by_rule)
    assert len(by_rule["train_lmac_td"]) == 2 and len(by_rule["evaluate"]) == 2  # two alphas, two conditions
    for rule, submitted in by_rule.items():
        for job in submitted:
            # what SLURM was asked for and allocated: the GPU to GPU rules only, with one CPU per GPU as lowered
            # (job TRES leave gres/gpu out: counting it needs slurmdbd)
            if rule in TINY_GPU_RULES:
                assert job["TresPerJob"] == "gres:gpu:1" and job["CpusPerTres"] == "gres:gpu:1", (rule, job)
                assert job["NumCPUs"] == "1", (rule, job)
            else:
                assert "TresPerJob" not in job, (rule, job)
            assert job["Partition"] == "debug" and job["StdOut"].startswith(str(real_slurm_run["workdir"])), job
            if job["JobId"] != real_slurm_run["cancelled"]:
                assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), (rule, job)
    # the local rules stayed on the submit host
    output = real_slurm_run["proc"].output
    assert {"all", "metrics_table"} <= set(re.findall(r"^localrule (\w+):", output, flags=re.M))


def test_cancelled_training_is_retried_and_resumes(real_slurm_run):
    proc, workdir = real_slurm_run["proc"], real_slurm_run["workdir"]
    assert proc.returncode == 0, _tail(real_slurm_run)
    lmac = [job for job in real_slurm_run["jobs"] if _rule(job) == "train_lmac"]
    assert [job["JobState"] for job in lmac] == ["CANCELLED", "COMPLETED"], lmac
    assert lmac[0]["JobId"] == real_slurm_run["cancelled"]
    # the retry is a new attempt: the rule's runtime grows with it (600 min, then 1200)
    assert [job["TimeLimit"] for job in lmac] == ["10:00:00", "20:00:00"], lmac
    log = (workdir / "logs/tiny/explainers/lmac/seed1234.log").read_text()
    resumed = re.search(r"resuming from \S+last\.pt after epoch (\d+)", log)
    assert resumed and 1 <= int(resumed.group(1)) < LMAC_EPOCHS, log
    history = workdir / "results/tiny/explainers/lmac/seed1234/history.csv"
    assert [int(r["epoch"]) for r in csv.DictReader(open(history))] == list(range(1, LMAC_EPOCHS + 1))


def test_oversized_request_fails_before_submission(slurm_cluster, tmp_path):
    # the profile as shipped (4 CPUs per GPU) on a node with fewer CPUs: one line per rule, nothing submitted
    cpus = int(slurm_cluster.run("sinfo", "--noheader", "--format=%c").split()[0])
    if cpus >= 4:
        pytest.skip(f"this node has {cpus} CPUs: the profile's 4 per GPU fit")
    before = len(_jobs(slurm_cluster))
    proc = subprocess.run(
        _snakemake_argv(tmp_path, TINY),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=slurm_cluster.env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    line = (
        f"rule train_lmac asks for 4 CPUs (cpus_per_gpu) but the largest node of partition debug has {cpus}: "
        f"lower it with --set-resources train_lmac:cpus_per_gpu={cpus} --set-threads train_lmac={cpus}"
    )
    assert line in output.splitlines(), output
    assert len(_jobs(slurm_cluster)) == before  # nothing was submitted


def test_another_run_ending_leaves_a_pending_jobs_log_folder(slurm_cluster, real_slurm_run):
    # JobLaunchFailure (exit 0:53): a job whose --output folder is gone when it starts fails before it runs.
    # The plugin sweeps empty folders of .snakemake/slurm_logs whenever a Snakemake with the SLURM executor exits;
    # the profile turns that off, so a run ending beside another one's pending job leaves its folder alone.
    workdir = real_slurm_run["workdir"]
    folder = workdir / ".snakemake" / "slurm_logs" / "rule_evaluate" / "pending_1234"
    folder.mkdir(parents=True)
    job = slurm_cluster.run("sbatch", "--parsable", "--hold", f"--output={folder}/%j.log", "--wrap", "echo ran")
    job = job.strip()
    proc = subprocess.run(
        _snakemake_argv(workdir, real_slurm_run["configfile"], *_lowered(1)),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=slurm_cluster.env,
    )
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert folder.is_dir()
    slurm_cluster.run("scontrol", "release", job)
    deadline = time.monotonic() + 60
    while (state := _job(slurm_cluster, job))["JobState"] in ("PENDING", "RUNNING", "COMPLETING"):
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert (state["JobState"], state["ExitCode"]) == ("COMPLETED", "0:0"), state
    assert (folder / f"{job}.log").read_text() == "ran\n"


def _job(cluster, job_id: str) -> dict[str, str]:
    return next(job for job in _jobs(cluster) if job["JobId"] == job_id)
