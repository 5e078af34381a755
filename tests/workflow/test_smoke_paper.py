"""`make smoke-paper`: config/paper.yaml end to end in smoke mode, on the CPU, against loopback stand-ins.

One run (under 20 minutes on 2 cores; docs/smoke_runs.md) shared by the tests below: every
rule of the paper DAG runs, through the real download code, at the published model sizes, and every
table, figure and record says that it is a smoke run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from snakemake_runs import REPO

from lmac.smoke import mark
from lmac.smoke.paper import run

PAPER = REPO / "config" / "paper.yaml"
RUN = "paper-smoke"


@pytest.fixture(scope="module")
def smoke_paper(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("smoke_paper")
    status, record = run(root / "work", root / "standins", cores="2")
    log = (root / "work" / "smoke.log").read_text()
    assert status == 0, log[-6000:]
    return root / "work", record


def job_stats(log: str) -> dict[str, int]:
    """rule -> jobs, from the first "Job stats" table Snakemake printed (the whole plan)."""
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def test_every_rule_of_the_paper_dag_runs(smoke_paper):
    from lmac.explainers.registry import expand_methods

    workdir, record = smoke_paper
    log = (workdir / "smoke.log").read_text()
    stats = job_stats(log)
    paper = yaml.safe_load(PAPER.read_text())
    methods = expand_methods(paper["evaluation"]["methods"], paper["lmac_td"]["alphas"])
    for rule in (
        "download_esc50",
        "download_wham",
        "download_ljspeech",
        "download_classifier",
        "prepare_dataset",
        "train_classifier",
        "train_lmac",
        "train_lmac_ft",
        "train_nmf",
        "train_l2i",
        "paper_tables",
        "claims",
        "sanity_checks",
        "listening_page",
        "listening_test",
        "provenance",
    ):
        assert stats.get(rule, 0) >= 1, f"{rule} did not run: {stats}"
    assert stats["train_lmac_td"] == len(paper["lmac_td"]["alphas"])
    results = workdir / "results" / RUN
    for method in methods:
        for condition in paper["evaluation"]["conditions"]:
            assert (results / "evaluation" / condition / method / "seed1.csv").is_file(), (condition, method)
    assert "synthesize_dataset" not in stats and "Nothing to be done" not in log
    assert (results / "report.html").is_file() and record["workflow_seconds"] > 0


def test_downloads_went_through_the_loopback_server_with_their_digests(smoke_paper):
    workdir, _ = smoke_paper
    logs = workdir / "logs" / RUN
    for name in ("data/download_esc50.log", "data/download_wham.log", "data/download_ljspeech.log"):
        text = (logs / name).read_text()
        assert re.search(r"downloaded http://127\.0\.0\.1:\d+/\S+ -> .*sha256 verified", text), (name, text)
    assert "sha256 verified" in (logs / "classifier" / "download_embedding_model.ckpt.log").read_text()
    assert (workdir / "resources" / "esc50" / "meta" / "esc50.csv").is_file()
    prepared = json.loads((workdir / "results" / RUN / "data" / "esc50" / "prepare.json").read_text())
    # one clip of the evaluated split, two of the others, and every class of the 250-clip listing in the class list
    assert prepared["counts"]["per_split"] == {"train": 2, "valid": 1, "test": 2}
    assert prepared["counts"]["classes"] == 50 and prepared["counts"]["listed"] == 250


def test_models_have_the_published_sizes(smoke_paper):
    from dataclasses import asdict

    from lmac.classifier.cnn14 import Cnn14Classifier
    from lmac.explainers.lmac_td_presets import resolve_arch

    workdir, _ = smoke_paper
    results = workdir / "results" / RUN
    paper = yaml.safe_load(PAPER.read_text())
    trained = torch.load(results / "classifier" / "model.pt", map_location="cpu", weights_only=True)["state_dict"]
    published = Cnn14Classifier(n_classes=50, width=paper["classifier"]["width"]).state_dict()
    assert {k.removeprefix("net."): v.shape for k, v in trained.items()} == {k: v.shape for k, v in published.items()}
    arch = asdict(resolve_arch(paper["lmac_td"]["preset"], paper["lmac_td"]["scale"]))
    for alpha in paper["lmac_td"]["alphas"]:
        path = results / "explainers" / f"lmac_td_a{alpha}" / "seed1" / "model.pt"
        assert torch.load(path, map_location="cpu", weights_only=True)["config"]["arch"] == arch, alpha
    # a finished training leaves no resume checkpoints behind (3.8 GB each at this size)
    assert not list((results / "work").rglob("*.pt"))


def test_every_table_figure_and_record_says_smoke_run(smoke_paper):
    workdir, _ = smoke_paper
    results = workdir / "results" / RUN
    for table in (results / "tables").glob("*.md"):
        assert mark.TEXT in table.read_text(), table
    for table in (results / "tables").glob("*.tex"):
        assert "SMOKE RUN" in table.read_text(), table
    assert "SMOKE RUN" in (results / "report.html").read_text(errors="replace")
    records = list(results.rglob("*.provenance.json"))
    assert records and all(json.loads(r.read_text())["job"]["smoke"] for r in records)
    assert (results / "figures").is_dir() and any((results / "figures").glob("*.png"))


def test_the_sanity_cascade_runs_the_smoke_steps_and_the_claims_read_the_last(smoke_paper):
    import pandas as pd

    workdir, _ = smoke_paper
    sanity = workdir / "results" / RUN / "sanity"
    frame = pd.read_csv(sanity / "cascading" / "lmac_td_a0.75" / "seed1.csv")
    assert sorted(frame["step"].unique()) == [0, 1, 7] and set(frame["decoder"]) == {"fixed"}
    retrained = pd.read_csv(sanity / "cascading" / "lmac" / "seed1.csv").query("decoder == 'retrained'")
    assert sorted(retrained["step"].unique()) == [0, 7]  # the retrainings are not shrunk
    # the paper-size LMAC-TD training holds the machine alone: it is given both cores
    record = workdir / "results" / RUN / "explainers" / "lmac_td_a0.75" / "seed1" / "model.provenance.json"
    assert json.loads(record.read_text())["job"]["threads"] == 2
