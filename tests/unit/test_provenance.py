"""Provenance records: what they contain, the git revision they name, and where jobs write them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from snakemake.iocontainers import Namedlist, Params, Wildcards

from lmac.errors import LmacError
from lmac.provenance import collect, git_info, installed_packages, job_record_path, plain, write_run_record
from lmac.workflow_step import run_step


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def no_outer_git(tmp_path, monkeypatch):
    """Make git stop at tmp_path, so a checkout that happens to contain the tmp dir is not found."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return tmp_path


@pytest.fixture
def repo(no_outer_git):
    root = no_outer_git / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "code.py").write_text("x = 1\n")
    (root / "sub").mkdir()
    (root / "sub" / "more.py").write_text("y = 2\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_record_names_environment_and_is_json(no_outer_git):
    record = collect(no_outer_git, config={"seed": np.int64(3), "path": Path("a/b")})
    for key in ("created", "git", "python", "machine", "torch", "environment", "packages", "installed", "config"):
        assert key in record, key
    assert record["packages"]["torch"] == torch.__version__.split("+")[0]
    assert record["packages"]["lmac"] is not None
    assert f"torch=={torch.__version__.split('+')[0]}" in record["installed"]
    assert record["torch"]["cuda_available"] == torch.cuda.is_available()
    assert record["torch"]["version"] == torch.__version__
    assert record["machine"]["cpu_count"] >= 1
    assert record["config"] == {"seed": 3, "path": "a/b"}
    assert record["git"] is None  # tmp_path is no git work tree
    json.loads(json.dumps(record))  # plain JSON, no default= needed


def test_installed_list_is_sorted_and_unique():
    names = [line.split("==")[0].lower() for line in installed_packages()]
    assert names == sorted(set(names))
    assert "numpy" in names


def test_git_revision_matches_head_and_tracks_dirty(repo):
    head = git(repo, "rev-parse", "HEAD")
    info = git_info(repo)
    assert info["revision"] == head and info["dirty"] is False
    assert info["root"] == str(repo.resolve())
    assert git_info(repo / "sub")["revision"] == head  # any folder (or file) inside the work tree
    assert git_info(repo / "sub" / "more.py")["revision"] == head
    (repo / "code.py").write_text("x = 2\n")
    assert git_info(repo)["dirty"] is True
    git(repo, "commit", "-q", "-am", "second")
    info = git_info(repo)
    assert info["revision"] == git(repo, "rev-parse", "HEAD") != head and info["dirty"] is False
    (repo / "new.py").write_text("")  # untracked, not ignored: the revision no longer names the code
    assert git_info(repo)["dirty"] is True


def test_git_info_is_none_outside_git_and_before_a_commit(no_outer_git):
    assert git_info(no_outer_git) is None
    empty = no_outer_git / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert git_info(empty) is None


def test_plain_keeps_json_types_and_stringifies_the_rest():
    assert plain({"a": (1, 2.5, None, True), 3: {np.float32(0.5)}, "t": torch.tensor(2)}) == {
        "a": [1, 2.5, None, True],
        "3": [0.5],
        "t": 2,
    }
    assert plain(Path("x")) == "x"


@pytest.mark.parametrize(
    "output, record",
    [
        ("results/classifier/model.pt", "results/classifier/model.provenance.json"),
        (
            "results/evaluation/clean/lmac_td_a0.75/seed1234.csv",
            "results/evaluation/clean/lmac_td_a0.75/seed1234.provenance.json",
        ),
        ("resources/synthetic", "resources/synthetic.provenance.json"),
    ],
)
def test_record_sits_beside_the_first_output(output, record):
    assert job_record_path(output) == Path(record)


def fake_job(tmp_path: Path, rule: str = "train_lmac") -> SimpleNamespace:
    out = tmp_path / "results" / "explainers" / "lmac" / "seed7"
    return SimpleNamespace(
        rule=rule,
        threads=1,
        input=Namedlist([str(tmp_path / "in.npy")]),
        output=Namedlist([str(out / "model.pt"), str(out / "history.csv")]),
        log=Namedlist([str(tmp_path / "job.log")]),
        params=Params(fromdict={"cfg": {"epochs": 2, "lr": 1e-3}, "seed": 7}),
        wildcards=Wildcards(fromdict={"seed": "7"}),
        resources=Namedlist(fromdict={"_cores": 2, "mem_mb": 1000, "runtime": 5}),
        scriptdir=str(tmp_path),
    )


def test_run_step_writes_the_job_record_after_the_outputs(no_outer_git):
    job = fake_job(no_outer_git)
    record = Path(job.output[0]).with_name("model.provenance.json")

    def step():
        assert not record.exists()  # written only once the job's work is done
        Path(job.output[0]).parent.mkdir(parents=True)
        Path(job.output[0]).write_bytes(b"model")

    run_step(job, step)
    data = json.loads(record.read_text())
    assert data["job"]["rule"] == "train_lmac"
    assert data["job"]["params"] == {"cfg": {"epochs": 2, "lr": 1e-3}, "seed": 7}
    assert data["job"]["wildcards"] == {"seed": "7"}
    assert data["job"]["resources"] == {"mem_mb": 1000, "runtime": 5}
    assert data["job"]["output"] == list(job.output) and data["job"]["seconds"] >= 0
    assert data["packages"]["torch"] and "installed" in data


def test_a_failed_rerun_leaves_no_stale_record(no_outer_git):
    job = fake_job(no_outer_git)
    record = job_record_path(job.output[0])
    record.parent.mkdir(parents=True)
    record.write_text("{}")  # from an earlier, successful run

    def step():
        raise LmacError("bad input")

    with pytest.raises(SystemExit) as exit_info:
        run_step(job, step)
    assert exit_info.value.code == 1
    assert not record.exists()
    assert "bad input" in Path(job.log[0]).read_text()


def test_run_step_can_skip_the_record(no_outer_git):
    job = fake_job(no_outer_git, rule="provenance")
    run_step(job, lambda: None, provenance=False)
    assert not job_record_path(job.output[0]).exists()


def test_run_record_lists_config_and_job_revisions(repo, monkeypatch):
    monkeypatch.chdir(repo)
    results = repo / "results" / "classifier"
    results.mkdir(parents=True)
    (results / "model.provenance.json").write_text(
        json.dumps({"created": "t", "job": {"rule": "train_classifier"}, "git": {"revision": "abc", "dirty": False}})
    )
    (results / "broken.provenance.json").write_text("{")  # a half-written record is skipped, not fatal
    record = write_run_record(repo / "results" / "provenance.json", {"seed": 1}, code_dir=repo)
    assert json.loads((repo / "results" / "provenance.json").read_text()) == record
    assert record["config"] == {"seed": 1}
    assert record["git"]["revision"] == git(repo, "rev-parse", "HEAD")
    assert record["jobs"] == {
        "results/classifier/model.provenance.json": {
            "rule": "train_classifier",
            "created": "t",
            "revision": "abc",
            "dirty": False,
        }
    }
    assert record["revisions"] == ["abc"]
