"""Runs of different configurations in one working directory keep their own results (docs/configuration.md#runs).

Each configuration writes under results/<run>/, logs/<run>/ and benchmarks/<run>/ (lmac.config.run_name):
neither overwrites the other, and neither is taken for the other's finished outputs, with or without
Snakemake's metadata (a copied or DVC-restored results/ has none).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from snakemake_runs import TINY, copy_run, show, snakemake

TARGET = "classifier/model.pt"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_runs(tiny_run, tmp_path_factory) -> dict:
    """The tiny run (a copy of the shared one), then a second configuration's classifier (other epochs, no `run`
    key) in the same folder."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("two_runs") / "run")
    other = yaml.safe_load(TINY.read_text())
    del other["run"]  # named by its file: longer.yaml -> results/longer/
    other["classifier"]["epochs"] += 1
    (workdir / "longer.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    before = digest(workdir / "results" / "tiny" / TARGET)
    second = snakemake(workdir, f"results/longer/{TARGET}", "--cores", 2, configfile=workdir / "longer.yaml")
    assert second.returncode == 0, show(second)
    return {"workdir": workdir, "first_digest": before, "second": second}


def test_the_second_configuration_trains_its_own_classifier(two_runs):
    workdir = two_runs["workdir"]
    assert "rule train_classifier" in two_runs["second"].output, show(two_runs["second"])
    assert (workdir / "results" / "longer" / TARGET).is_file()
    assert (workdir / "logs" / "longer" / "classifier" / "train_classifier.log").is_file()
    assert (workdir / "benchmarks" / "longer" / "classifier" / "train_classifier.tsv").is_file()


def test_the_first_configuration_is_kept_and_still_up_to_date(two_runs):
    workdir = two_runs["workdir"]
    assert digest(workdir / "results" / "tiny" / TARGET) == two_runs["first_digest"]
    again = snakemake(workdir, f"results/tiny/{TARGET}", "-n", configfile=TINY)
    assert again.returncode == 0 and "Nothing to be done" in again.output, show(again)


def test_without_snakemake_metadata_another_configuration_is_not_satisfied(two_runs, tmp_path):
    """A copied results/ (no .snakemake/): the paper-vs-embedded case that used to report "Nothing to be done"."""
    copy = tmp_path / "copy"
    shutil.copytree(two_runs["workdir"] / "results" / "tiny", copy / "results" / "tiny")
    third = yaml.safe_load(TINY.read_text())
    third["run"] = "third"
    third["classifier"]["epochs"] += 2
    (copy / "third.yaml").write_text(yaml.safe_dump(third, sort_keys=False))
    proc = snakemake(copy, "-n", configfile=copy / "third.yaml")
    assert proc.returncode == 0, show(proc)
    assert "Nothing to be done" not in proc.output and "results/third/classifier/model.pt" in proc.output, show(proc)
    assert "results/tiny/" not in proc.output, show(proc)


def test_config_overrides_run_in_their_own_folder(two_runs):
    workdir = two_runs["workdir"]
    proc = snakemake(workdir, "--config", "classifier={epochs: 2}", "-n", configfile=TINY)
    assert proc.returncode == 0, show(proc)
    assert "results/tiny-" in proc.output and f"results/tiny/{TARGET}" not in proc.output, show(proc)
    named = snakemake(workdir, "--config", "run=quick", "classifier={epochs: 2}", "-n", configfile=TINY)
    assert named.returncode == 0 and f"results/quick/{TARGET}" in named.output, show(named)


def test_a_bad_run_name_stops_before_any_job(tmp_path):
    proc = snakemake(tmp_path, "--config", "run=../elsewhere", "-n", configfile=TINY)
    assert proc.returncode != 0 and "config key 'run'" in proc.output, show(proc)
    assert not (tmp_path / "results").exists()
