"""DVC round trip: results made once, pushed, pulled into a fresh clone and reused without retraining.

One module-scoped run (minutes): a git repository holding a copy of this project (every file git
tracks or would track) runs a shrunken embedded default, ``python -m lmac.versioning track``
(``make dvc-track``) puts the results under DVC, ``dvc push`` sends them to a local-directory
remote in another temporary folder. A ``git clone`` of that repository then pulls them, restores
them (``make restore``: ``dvc pull`` + ``snakemake --touch``) and regenerates the figures.
Which jobs ran is read from the files that only a real run leaves (a non-empty ``log:``, a
``benchmark:`` file), not from Snakemake's wording. DVC and git never touch the network: the remote is a folder, analytics
and update checks are off, and DVC's global and system config point into the temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, TINY, show, snakemake

PY = sys.executable
# the jobs a restore must never repeat; anything else (tables, figures, provenance) may be regenerated
EXPENSIVE_LOGS = (
    "logs/embedded/data",
    "logs/embedded/classifier",
    "logs/embedded/explainers",
    "logs/embedded/evaluate",
)
SEED = 1234


def small_config() -> dict:
    """tests/workflow/tiny.yaml cut to one learned method, one reference, one condition, one epoch."""
    config = yaml.safe_load(TINY.read_text())
    config["run"] = "embedded"  # as config/config.yaml's: the folder dvc.yaml and the Makefile name
    config["classifier"]["epochs"] = 1
    config["lmac"]["epochs"] = 1
    config["evaluation"].update(methods=["lmac", "all_ones"], conditions=["clean"], keep_masks=["clean"])
    config["report"].update(n_examples=1, n_boot=100)
    return config


def run(cmd: list, cwd: Path, env: dict, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    proc.output = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: exit {proc.returncode}\n{proc.output[-6000:]}"
    return proc


def offline_env(tmp: Path) -> dict:
    """DVC with its own (empty) global/system config, no analytics, no update check; git identity."""
    dvc_global = tmp / "dvc-global"
    dvc_global.mkdir()
    (dvc_global / "config").write_text("[core]\n    analytics = false\n    check_update = false\n")
    (tmp / "dvc-system").mkdir()
    return {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "DVC_STUDIO_OFFLINE": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(dvc_global),
        "DVC_SYSTEM_CONFIG_DIR": str(tmp / "dvc-system"),
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


def snakemake_project(project: Path, *args, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """The workflow of the copy ``project`` (its own Snakefile and config/config.yaml), which must succeed."""
    proc = snakemake(project, "--cores", 2, *args, snakefile=None, timeout=timeout, env=env)
    assert proc.returncode == 0, show(proc, 6000)
    return proc


def lmac_versioning(cwd: Path, env: dict, *args) -> subprocess.CompletedProcess:
    """What `make dvc-track` / `make restore` run (make itself would (re)build the venv in the copy)."""
    return run([PY, "-m", "lmac.versioning", *args], cwd, env, timeout=900)


def git(cwd: Path, env: dict, *args) -> str:
    return run(["git", *args], cwd, env).stdout.strip()


def files_under(root: Path, sub: str) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / sub).rglob("*") if p.is_file())


def expensive_logs(root: Path) -> list[str]:
    """The evidence of data, training or evaluation jobs that really ran: their logs and benchmarks.

    `snakemake --touch` creates a touched job's log file empty; a run of our rules always writes to it.
    """
    logs = [f for d in EXPENSIVE_LOGS for f in (files_under(root, d) if (root / d).is_dir() else [])]
    return [f for f in logs if (root / f).stat().st_size > 0] + sorted(
        p.relative_to(root).as_posix() for p in (root / "benchmarks").rglob("*.tsv")
    )


def has_rule(root: Path, name: str) -> bool:
    return any(re.search(rf"^rule {name}:", p.read_text(), re.M) for p in (root / "workflow" / "rules").glob("*.smk"))


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dvc_roundtrip")
    env = offline_env(tmp)
    origin, store, clone = tmp / "origin", tmp / "store", tmp / "clone"

    # the project as a fresh repository: what git tracks plus new, not ignored files
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():  # a file deleted but not yet staged is still listed
            (origin / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, origin / rel)
    (origin / "config" / "config.yaml").write_text(yaml.safe_dump(small_config(), sort_keys=False))
    git(origin, env, "init", "-q", "-b", "main")
    git(origin, env, "add", "-A")
    git(origin, env, "commit", "-q", "-m", "project")

    made = snakemake_project(origin, env=env, timeout=1500)
    head = git(origin, env, "rev-parse", "HEAD")

    tracked = lmac_versioning(origin, env, "track")
    git(origin, env, "add", "-A")
    staged = git(origin, env, "diff", "--cached", "--name-only").splitlines()
    run([PY, "-m", "dvc", "remote", "add", "-d", "store", store], origin, env)
    git(origin, env, "add", "-A")
    git(origin, env, "commit", "-q", "-m", "results under DVC")
    pushed = run([PY, "-m", "dvc", "push"], origin, env)

    git(tmp, env, "clone", "-q", origin, clone)
    cloned = files_under(clone, ".")
    run([PY, "-m", "dvc", "pull"], clone, env)
    # the negative: a pull gives every file a new time in DVC's checkout order (by path here, so
    # results/data/ ends up newer than results/classifier/); Snakemake would retrain
    untouched = snakemake_project(clone, "-n", env=env)
    restored = lmac_versioning(clone, env, "restore", "--cores", "2", "--", "--workflow-profile", "none")
    after_restore = snakemake_project(clone, "-n", env=env)
    logs_after_restore = expensive_logs(clone)

    # regenerate the figures (and the tables they read) from the pulled results
    target = "figures" if has_rule(clone, "figures") else "all"
    shutil.rmtree(clone / "results" / "embedded" / "figures")
    shutil.rmtree(clone / "results" / "embedded" / "tables")
    regenerated = snakemake_project(clone, target, env=env)
    logs_after_regeneration = expensive_logs(clone)
    return dict(
        origin=origin,
        clone=clone,
        store=store,
        head=head,
        made=made,
        tracked=tracked,
        staged=staged,
        pushed=pushed,
        cloned=cloned,
        untouched=untouched,
        restored=restored,
        after_restore=after_restore,
        logs_after_restore=logs_after_restore,
        target=target,
        regenerated=regenerated,
        logs_after_regeneration=logs_after_regeneration,
        env=env,
    )


def test_track_adds_results_and_generated_data_but_not_work_state(roundtrip):
    staged = set(roundtrip["staged"])
    pointers = {f for f in staged if f.endswith(".dvc")}
    expected = {
        f"results/embedded/{name}.dvc"
        for name in ("classifier", "explainers", "evaluation", "explanations", "tables", "figures", "provenance.json")
    }
    assert expected <= pointers, pointers
    # the synthetic dataset's folder holds every generated variant and their provenance records
    assert {"results/embedded/data/synthetic.dvc", "resources/synthetic.dvc"} <= pointers
    assert not {"results/embedded/work.dvc", "results/embedded/data.dvc"} & pointers
    # only the pointers reach git, no result file itself (.gitignore keeps them out already)
    assert all(f.endswith(".dvc") for f in staged), staged
    assert all(p in roundtrip["tracked"].output for p in expected)  # printed for `git add`


def test_push_sends_the_results_to_the_local_remote(roundtrip):
    assert any(roundtrip["store"].rglob("*")), "remote is empty"
    assert not any(
        f.startswith("results/embedded/") and not f.endswith((".dvc", ".gitignore")) for f in roundtrip["cloned"]
    ), "the clone holds results before the pull: they went through git"


def test_without_touch_snakemake_would_retrain(roundtrip):
    planned = roundtrip["untouched"].output
    assert re.search(r"\btrain_(classifier|lmac)\b", planned), planned


def test_restore_reruns_nothing(roundtrip):
    assert roundtrip["logs_after_restore"] == [], roundtrip["logs_after_restore"]
    assert "Nothing to be done" in roundtrip["after_restore"].output, roundtrip["after_restore"].output[-3000:]


def test_regenerating_figures_trains_and_evaluates_nothing(roundtrip):
    origin, clone = roundtrip["origin"], roundtrip["clone"]
    assert roundtrip["logs_after_regeneration"] == [], roundtrip["logs_after_regeneration"]
    figures = files_under(clone, "results/embedded/figures")
    assert figures == files_under(origin, "results/embedded/figures")
    assert any(f.endswith(".png") for f in figures)
    assert all((clone / f).stat().st_size > 0 for f in figures)
    assert (clone / "results" / "embedded" / "tables" / "metrics.md").read_text().strip()
    assert (clone / "logs" / "embedded" / "report" / "metrics_table.log").is_file()  # the tables were really rebuilt


def test_every_job_and_the_run_leave_provenance(roundtrip):
    head = roundtrip["head"]
    for root in (roundtrip["origin"], roundtrip["clone"]):  # the records travel with the results
        run_record = json.loads((root / "results" / "embedded" / "provenance.json").read_text())
        assert run_record["git"]["revision"] == head and run_record["git"]["dirty"] is False
        assert run_record["config"]["evaluation"]["methods"] == ["lmac", "all_ones"]
        assert run_record["revisions"] == [head]
        for rel, rule in [
            ("results/embedded/classifier/model.provenance.json", "train_classifier"),
            (f"results/embedded/explainers/lmac/seed{SEED}/model.provenance.json", "train_lmac"),
            (f"results/embedded/evaluation/clean/lmac/seed{SEED}.provenance.json", "evaluate"),
        ]:
            record = json.loads((root / rel).read_text())
            assert record["job"]["rule"] == rule and record["git"]["revision"] == head
            assert record["packages"]["torch"] and record["torch"]["version"]
            assert rel in run_record["jobs"]
    lmac_record = json.loads(
        (roundtrip["origin"] / f"results/embedded/explainers/lmac/seed{SEED}/model.provenance.json").read_text()
    )
    assert lmac_record["job"]["params"]["seed"] == SEED and lmac_record["job"]["params"]["cfg"]["epochs"] == 1


def test_dvc_reads_the_declared_metrics_and_plots(roundtrip):
    """dvc.yaml (no stages) names files the workflow makes: `dvc metrics show` and `dvc plots show` find them all."""
    clone, env = roundtrip["clone"], roundtrip["env"]
    declared = yaml.safe_load((clone / "dvc.yaml").read_text())
    assert "stages" not in declared
    assert declared["params"] == ["config/config.yaml"]
    metrics = json.loads(run([PY, "-m", "dvc", "metrics", "show", "--json"], clone, env).stdout)[""]["data"]
    assert set(metrics) == set(declared["metrics"])
    assert all("error" not in m and m["data"] for m in metrics.values()), metrics
    assert metrics["results/embedded/tables/metrics.json"]["data"]["clean"]["lmac"]["FidIn"] >= 0
    plots = json.loads(run([PY, "-m", "dvc", "plots", "show", "--json"], clone, env).stdout)
    paths = {next(iter(p)) if isinstance(p, dict) else p for p in declared["plots"]}
    assert set(plots["data"]) == paths and not plots.get("errors"), plots.get("errors")


def test_restore_rebuilds_data_left_out_of_dvc_without_retraining(roundtrip):
    """What a clone of an ESC-50 run sees: its prepared audio is not pushed (licence), so restore rebuilds it."""
    clone, env = roundtrip["clone"], roundtrip["env"]
    shutil.rmtree(clone / "logs")
    shutil.rmtree(clone / "results" / "embedded" / "data" / "synthetic")
    restored = lmac_versioning(clone, env, "restore", "--no-pull", "--cores", "2", "--", "--workflow-profile", "none")
    assert "results/embedded/data/synthetic/audio.npy" in restored.output
    assert expensive_logs(clone) == ["logs/embedded/data/prepare_synthetic.log"]  # the only expensive job that ran
    assert "Nothing to be done" in snakemake_project(clone, "-n", env=env).output
