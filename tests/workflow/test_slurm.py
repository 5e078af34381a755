"""The SLURM profile (workflow/profiles/slurm): resolved resources, and a run through the real plugin.

Two layers, both CPU-only and without a cluster:

* dry runs with ``--workflow-profile workflow/profiles/slurm`` print every job's resolved
  resources, so they show what each rule would ask SLURM for (no sbatch needed);
* one run of a shrunken tiny config with the fake SLURM of ``tests/fakeslurm`` first on PATH: the
  installed snakemake-executor-plugin-slurm submits with sbatch, polls with sacct and runs each job
  step with srun, and the shims execute everything locally while recording the sbatch and srun
  lines. The fake SLURM also kills the first L-MAC training mid-way like a wall clock (TIMEOUT),
  so the run shows the retry asking for more time and the trainer resuming from its work dir.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from snakemake_runs import REPO, TINY, snakemake
from snakemake_runs import show as show_tail

PROFILE = REPO / "workflow" / "profiles" / "slurm"
FAKE_BIN = REPO / "tests" / "fakeslurm" / "bin"

# what each rule kind must ask for
TRAINING_RULES = ["train_classifier", "train_lmac", "train_lmac_ft", "train_lmac_td"]
CPU_RULES = ["synthesize_dataset", "prepare_dataset"]  # submitted, without a GPU
LOCAL_RULES = ["all", "metrics_table", "example_figure", "download_esc50", "download_wham", "download_ljspeech"]
CPUS_PER_GPU = 4
ACCOUNT, PARTITION = "fakeacct", "gpu"
# the L-MAC training the fake wall clock kills once, as soon as its first epoch is saved
TIMEOUT_WATCH = "results/tiny/work/explainers/lmac/seed1234/last.pt"
LMAC_EPOCHS = 3


def show(proc: subprocess.CompletedProcess) -> str:
    return show_tail(proc, 20000)


def dry_run_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job a dry run lists."""
    jobs, rule = [], None
    for line in output.splitlines():
        match = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if match and not line.startswith(" "):
            rule = match.group(1)
        elif rule is not None and line.strip().startswith("resources:"):
            items = line.split("resources:", 1)[1].split(", ")
            jobs.append((rule, dict(item.strip().split("=", 1) for item in items if "=" in item)))
            rule = None
    return jobs


def slurm_dry_run(workdir: Path, *args) -> list[tuple[str, dict[str, str]]]:
    # targets first: --default-resources takes every word after it
    proc = snakemake(workdir, "all", "sanity", "-n", *args, profile=PROFILE)
    assert proc.returncode == 0, show(proc)
    assert f"workflow specific profile {PROFILE}" in proc.output, show(proc)
    jobs = dry_run_jobs(proc.output)
    assert jobs, show(proc)
    return jobs


def assert_slurm_resources(jobs: list[tuple[str, dict[str, str]]], account: str, partition: str) -> None:
    rules = {rule for rule, _ in jobs}
    for rule in [*TRAINING_RULES, "evaluate", "prepare_dataset"]:  # synthesize_dataset: embedded data only
        assert rule in rules, f"{rule} missing from the dry run: {sorted(rules)}"
    for rule, res in jobs:
        assert res.get("slurm_account") == account and res.get("slurm_partition") == partition, (rule, res)
        if rule in ("all", "sanity"):  # pure aggregation targets
            continue
        # every job that could be submitted says how long and how much memory
        assert int(res["runtime"]) > 0 and int(res["mem_mb"]) > 0, (rule, res)
        if res.get("gpu") == "1":
            # every GPU rule, present ones and new ones: the profile must give it cpus_per_gpu
            assert res.get("cpus_per_gpu") == str(CPUS_PER_GPU), (
                f"{rule} requests a GPU but no cpus_per_gpu: add it to set-resources in {PROFILE}/profile.yaml"
            )
        if rule in TRAINING_RULES or rule == "evaluate" or rule.startswith("sanity_retrain"):
            assert res.get("gpu") == "1", (rule, res)
        if rule in CPU_RULES:
            assert "gpu" not in res and "cpus_per_gpu" not in res, (rule, res)


# --------------------------------------------------------------------------------------------
# the profile and its dry runs


def test_profile_is_site_neutral_and_retries():
    profile = yaml.safe_load((PROFILE / "profile.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["latency-wait"] >= 60  # outputs on NFS appear late
    assert profile["retries"] >= 1  # a timed-out training gets another, longer attempt
    assert profile["rerun-incomplete"] is True
    # no sweep of empty SLURM log folders on exit: it fails other runs' pending jobs (test_slurm_cluster.py)
    assert profile["slurm-delete-logfiles-older-than"] == 0
    # no account or partition: they come from the site (command line or a global profile), and
    # no default-resources block that would swallow (or be swallowed by) the site's
    assert "default-resources" not in profile

    def keys(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)

    assert not {"slurm_account", "slurm_partition", "slurm_extra", "gres"} & set(keys(profile))


def test_dry_run_tiny_config(tmp_path):
    jobs = slurm_dry_run(
        tmp_path,
        "--configfile",
        TINY,
        "--default-resources",
        f"slurm_account={ACCOUNT}",
        f"slurm_partition={PARTITION}",
    )
    assert_slurm_resources(jobs, ACCOUNT, PARTITION)
    by_rule = {rule: res for rule, res in jobs}
    # sizes from the rules at attempt 1 (later attempts scale both, see the fake-SLURM run)
    assert by_rule["train_lmac"]["runtime"] == "600" and by_rule["train_lmac"]["mem_mb"] == "10000"
    assert by_rule["train_lmac_td"]["runtime"] == "1440"


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml"])
def test_dry_run_shipped_configs(tmp_path, configfile):
    shutil.copytree(REPO / "config", tmp_path / "config")  # what a fresh clone has
    jobs = slurm_dry_run(
        tmp_path,
        "--configfile",
        configfile,
        "--default-resources",
        f"slurm_account={ACCOUNT}",
        f"slurm_partition={PARTITION}",
    )
    assert_slurm_resources(jobs, ACCOUNT, PARTITION)
    if configfile.endswith("paper.yaml"):  # downloads are in this DAG; they run locally (fake-SLURM run)
        assert {"download_esc50", "download_wham", "download_ljspeech"} <= {rule for rule, _ in jobs}


def test_site_settings_from_a_global_profile(tmp_path):
    # a site's own profile (e.g. ~/.config/snakemake/<site>/) keeps its default-resources
    # next to the workflow profile, which has none
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.yaml").write_text(
        yaml.safe_dump({"default-resources": {"slurm_account": "siteacct", "slurm_partition": "sitegpu"}})
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    jobs = slurm_dry_run(workdir, "--configfile", TINY, "--profile", site)
    assert_slurm_resources(jobs, "siteacct", "sitegpu")


def test_gpu_requested_without_cuda_fails_fast(monkeypatch):
    # a CUDA-less torch on a GPU node (env solved on the login node) must not train on the CPU
    from lmac.errors import LmacError
    from lmac.training import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(LmacError, match=f"'{device}' requested but no CUDA GPU"):
            pick_device(device)
    assert pick_device("auto").type == "cpu"


# --------------------------------------------------------------------------------------------
# the fake-SLURM run


def _archives(root: Path) -> dict[str, Path]:
    """Tiny stand-ins for the dataset archives: only the marker file each download rule looks for."""
    root.mkdir()
    zip_path = root / "datasets.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("ESC-50-master/meta/esc50.csv", "filename,fold,target,category\n")
        zf.writestr("wham_noise/metadata/noise_meta_tr.csv", "utterance_id\n")
    tar_path = root / "LJSpeech-1.1.tar.bz2"
    with tarfile.open(tar_path, "w:bz2") as tf:
        data = b"LJ001-0001|text|text\n"
        info = tarfile.TarInfo("LJSpeech-1.1/metadata.csv")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return {"esc50": zip_path, "wham": zip_path, "ljspeech": tar_path}


def _fake_slurm_env(state: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env.update(
        PATH=os.pathsep.join([str(FAKE_BIN), str(Path(sys.executable).parent), env.get("PATH", "")]),
        FAKESLURM_DIR=str(state),
        FAKESLURM_PYTHON=sys.executable,
        FAKESLURM_ACCOUNTS=ACCOUNT,
        FAKESLURM_TIMEOUT=f"rule_train_lmac_wildcards:{TIMEOUT_WATCH}",
    )
    return env


@pytest.fixture(scope="module")
def fake_slurm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_slurm")
    workdir, state = root / "work", root / "slurm"
    workdir.mkdir()
    config = yaml.safe_load(TINY.read_text())
    # shrunk to the rule kinds: one learned explainer and one reference, one condition
    config["evaluation"].update(methods=["lmac", "all_ones"], conditions=["clean"], keep_masks=["clean"])
    config["lmac"]["epochs"] = LMAC_EPOCHS  # long enough that the wall clock lands mid-training
    for name, archive in _archives(root / "archives").items():
        config["dataset"][name] = {"url": archive.as_uri(), "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}
    configfile = root / "fake_slurm.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    env = _fake_slurm_env(state)
    try:
        proc = snakemake(
            workdir,
            "all",
            "resources/esc50",
            "resources/wham",
            "resources/ljspeech",
            "--slurm-init-seconds-before-status-checks",
            1,
            "--default-resources",
            f"slurm_account={ACCOUNT}",
            f"slurm_partition={PARTITION}",
            configfile=configfile,
            profile=PROFILE,
            timeout=1500,
            env=env,
        )
    finally:  # jobs run detached from Snakemake: end any left behind by a failed or timed-out run
        leftover = [p.stem for p in (state / "jobs").glob("*.state")] if (state / "jobs").is_dir() else []
        if leftover:
            subprocess.run([str(FAKE_BIN / "scancel"), *leftover], env=env, check=False)
    sbatch = (
        [shlex.split(line) for line in (state / "sbatch.log").read_text().splitlines()]
        if (state / "sbatch.log").exists()
        else []
    )
    srun = (state / "srun.log").read_text().splitlines() if (state / "srun.log").exists() else []
    return {"proc": proc, "workdir": workdir, "state": state, "sbatch": sbatch, "srun": srun}


def _submissions(run) -> dict[str, list[dict[str, str]]]:
    """rule -> its sbatch calls in order, each as option -> value (flags -> '')."""
    by_rule: dict[str, list[dict[str, str]]] = {}
    for argv in run["sbatch"]:
        opts, i = {}, 1
        while i < len(argv):
            arg = argv[i]
            if "=" in arg and arg.startswith("--"):
                key, value = arg.split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                key, value = arg, argv[i + 1]
                i += 1
            else:
                key, value = arg, ""
            opts[key] = value
            i += 1
        rule = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", opts["--comment"]).group(1)
        by_rule.setdefault(rule, []).append(opts)
    return by_rule


def test_fake_slurm_run_completes(fake_slurm_run):
    proc, workdir = fake_slurm_run["proc"], fake_slurm_run["workdir"]
    assert proc.returncode == 0, show(proc)
    for path in (
        "results/tiny/tables/metrics.csv",
        "results/tiny/tables/metrics.md",
        "results/tiny/classifier/model.pt",
        "results/tiny/explainers/lmac/seed1234/model.pt",
        "results/tiny/evaluation/clean/lmac/seed1234.csv",
        "resources/esc50/meta/esc50.csv",
        "resources/wham/metadata/noise_meta_tr.csv",
        "resources/ljspeech/metadata.csv",
    ):
        assert (workdir / path).is_file(), path
    rows = list(csv.DictReader(open(workdir / "results/tiny/tables/metrics.csv")))
    assert {r["method"] for r in rows} == {"lmac", "all_ones"}


def test_fake_slurm_submissions_carry_the_resources(fake_slurm_run):
    assert fake_slurm_run["proc"].returncode == 0, show(fake_slurm_run["proc"])
    submitted = _submissions(fake_slurm_run)
    for rule in [*CPU_RULES, "train_classifier", "train_lmac", "evaluate"]:
        assert rule in submitted, f"{rule} was not submitted: {sorted(submitted)}"
    for rule, calls in submitted.items():
        for opts in calls:
            assert opts["-A"] == ACCOUNT and opts["-p"] == PARTITION, (rule, opts)
            assert int(opts["-t"]) > 0 and int(opts["--mem"]) > 0, (rule, opts)
            assert "--executor slurm-jobstep" in opts["--wrap"], (rule, opts)
            if rule in CPU_RULES:
                assert "--gpus" not in opts and "--cpus-per-gpu" not in opts, (rule, opts)
            else:
                assert opts["--gpus"] == "1" and opts["--cpus-per-gpu"] == str(CPUS_PER_GPU), (rule, opts)
    assert submitted["train_classifier"][0]["-t"] == "240" and submitted["train_classifier"][0]["--mem"] == "8000"
    # inside each allocation the jobstep plugin ran the job under srun, with the GPU for GPU jobs
    srun = fake_slurm_run["srun"]
    assert len(srun) == sum(len(calls) for calls in submitted.values())
    assert sum("--gpus=1" in line for line in srun) == sum(
        len(calls) for rule, calls in submitted.items() if rule not in CPU_RULES
    )


def test_fake_slurm_local_rules_stay_on_the_login_node(fake_slurm_run):
    proc = fake_slurm_run["proc"]
    assert proc.returncode == 0, show(proc)
    # (the output also quotes the failed job's SLURM log, where the job step calls itself local)
    ran_locally = set(re.findall(r"^localrule (\w+):", proc.output, flags=re.M))
    assert set(LOCAL_RULES) <= ran_locally, sorted(ran_locally)
    assert not set(LOCAL_RULES) & set(_submissions(fake_slurm_run)), sorted(_submissions(fake_slurm_run))


def test_fake_slurm_timeout_is_retried_longer_and_resumes(fake_slurm_run):
    proc, workdir, state = fake_slurm_run["proc"], fake_slurm_run["workdir"], fake_slurm_run["state"]
    assert proc.returncode == 0, show(proc)
    killed = (state / "timeout.done").read_text().strip()
    assert (state / "jobs" / f"{killed}.state").read_text().strip() == "TIMEOUT"
    calls = _submissions(fake_slurm_run)["train_lmac"]
    assert len(calls) == 2, calls  # the timed-out attempt and its retry
    assert [c["-t"] for c in calls] == ["600", "1200"]  # runtime = 600 * attempt
    assert [c["--mem"] for c in calls] == ["10000", "20000"]
    # the retry continued from the work dir's last epoch instead of starting over
    log = (workdir / "logs/tiny/explainers/lmac/seed1234.log").read_text()
    resumed = re.search(r"resuming from \S+last\.pt after epoch (\d+)", log)
    assert resumed and 1 <= int(resumed.group(1)) < LMAC_EPOCHS, log
    epochs = [
        int(r["epoch"]) for r in csv.DictReader(open(workdir / "results/tiny/explainers/lmac/seed1234/history.csv"))
    ]
    assert epochs == list(range(1, LMAC_EPOCHS + 1))
