"""`snakemake claims_seeds` (`make claims`) and the tables beyond the papers, on a shrunk tiny configuration with three claims seeds.

Runs in a temporary working directory (never the repository's results/). The explainers of the extra
claims seeds are trained on demand by the ordinary rules, which accept any seed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"
TINY = REPO / "tests" / "workflow" / "tiny.yaml"
TABLES = ["listenability", "roundtrip", "robustness", "claims"]
FIGURES = ["listenability", "roundtrip", "robustness"]


def shrunk_config() -> dict:
    config = yaml.safe_load(TINY.read_text())
    config["seeds"] = [1]
    # the randomisation claims need the sanity checks (their own tests); here they must say NOT RUN
    config["claims"] = {"seeds": [1, 2, 3], "conditions": ["mixture"], "file": None, "randomisation": False}
    config["evaluation"].update(methods=["lmac", "lmac_ft", "lmac_td", "saliency"], conditions=["clean", "mixture"])
    config["lmac"]["epochs"] = 1
    config["lmac_td"]["alphas"] = [0.75]
    config["report"]["n_boot"] = 100
    return config


def snakemake(workdir: Path, *args, timeout: float = 1500, config: str = "config.yaml") -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        SNAKEFILE,
        "--directory",
        workdir,
        "--configfile",
        workdir / config,
        "--workflow-profile",
        "none",
        "--cores",
        2,
        *args,
    ]
    return subprocess.run(list(map(str, command)), cwd=workdir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def checks_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("checks_run")
    (workdir / "config.yaml").write_text(yaml.safe_dump(shrunk_config(), sort_keys=False))
    targets = [
        "claims_seeds",
        "results/tiny/figures/claims_seeds.png",
        *(f"results/tiny/tables/{t}.md" for t in TABLES[:3]),
        *(f"results/tiny/figures/{f}.png" for f in FIGURES),
    ]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return workdir


@pytest.mark.slow
def test_claims_pool_three_seeds_and_report_every_verdict(checks_run):
    for seed in (1, 2, 3):  # each claims seed trained and evaluated its own explainers
        assert (checks_run / f"results/tiny/explainers/lmac/seed{seed}/model.pt").exists()
        assert (checks_run / f"results/tiny/evaluation/mixture/lmac_td_a0.75/seed{seed}.csv").exists()
    comparisons = pd.read_csv(checks_run / "results/tiny/tables/claims_seeds.csv")
    assert set(comparisons["verdict"]) <= {"PASS", "FAIL", "NOT RUN"}
    ran = comparisons[comparisons["verdict"] != "NOT RUN"]
    assert len(ran) and (ran.loc[ran["rule"] != "randomisation_degrades", "n_seeds"] == 3).all()
    # ig, shap, ... are not evaluated in this configuration: their comparisons say so
    assert comparisons.loc[comparisons["versus"] == "ig", "note"].str.contains("not evaluated").all()
    # claims.randomisation is off: the randomisation claims are NOT RUN, and say why
    randomisation = comparisons[comparisons["rule"].str.startswith("randomisation")]
    assert (randomisation["verdict"] == "NOT RUN").all()
    assert randomisation["note"].str.contains("claims.randomisation is false").all()
    md = (checks_run / "results/tiny/tables/claims_seeds.md").read_text()
    for claim in set(comparisons["claim"]):
        assert f"### {claim}:" in md
    assert "Seeds 1, 2, 3" in md
    assert {"claims_seeds.tex", "claims_seeds.html"} <= {p.name for p in (checks_run / "results/tiny/tables").iterdir()}
    assert (checks_run / "results/tiny/figures/claims_seeds.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_tables_and_figures_beyond_the_papers(checks_run):
    for table in TABLES[:3]:
        for ext in ("csv", "md", "tex"):
            assert (checks_run / f"results/tiny/tables/{table}.{ext}").stat().st_size > 0
    listen = pd.read_csv(checks_run / "results/tiny/tables/listenability.csv")
    assert set(listen["condition"]) == {"mixture"}  # clean has no separate clean target
    assert set(listen["method"]) == {"lmac", "lmac_ft", "lmac_td_a0.75", "saliency"}
    assert listen.loc[listen["metric"] == "SI_SDR", "mean"].notna().all()
    ranks = pd.read_csv(checks_run / "results/tiny/tables/robustness_ranks.csv")
    # τ is NaN where an operator scores every method the same (e.g. AI = 0 for all on tiny models)
    assert set(ranks["condition"]) == {"clean", "mixture"} and ranks["kendall_tau"].dropna().between(-1, 1).all()
    for figure in FIGURES:
        assert (checks_run / f"results/tiny/figures/{figure}.png").stat().st_size > 0
        assert (checks_run / f"results/tiny/figures/{figure}.pdf").stat().st_size > 0


@pytest.mark.slow
def test_checks_target_also_wants_the_sanity_outputs(checks_run):
    proc = snakemake(checks_run, "-n", "checks", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sanity_data_randomisation" in proc.stdout and "rule checks" in proc.stdout
    # with claims.randomisation on, the claims wait for the cascading summary
    config = shrunk_config()
    config["claims"]["randomisation"] = True
    (checks_run / "sanity.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(checks_run, "-n", "claims_seeds", timeout=300, config="sanity.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule sanity_cascading_summary" in proc.stdout and "rule sanity_data_randomisation" not in proc.stdout
