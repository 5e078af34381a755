"""`snakemake claims_seeds` (`make claims`) and the tables beyond the papers, in a copy of the shared tiny run.

tests/workflow/tiny.yaml has three claims seeds, the first the run's own: the explainers of the two others
are trained on demand by the ordinary rules, which accept any seed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from esc50_fixture import write_config
from snakemake_runs import copy_run, show, snakemake

SEEDS = (1234, 1235, 1236)  # tiny.yaml's claims.seeds
TABLES = ["listenability", "roundtrip", "robustness", "claims"]
FIGURES = ["listenability", "roundtrip", "robustness"]


def checks_config(path: Path, randomisation: bool = False) -> Path:
    # the randomisation claims need the sanity checks (their own tests); here they must say NOT RUN
    return write_config(path, **{"claims.randomisation": randomisation})


@pytest.fixture(scope="module")
def checks_run(tiny_run, tmp_path_factory) -> Path:
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("checks") / "run")
    config = checks_config(workdir / "checks.yaml")
    targets = [
        "claims_seeds",
        "results/tiny/figures/claims_seeds.png",
        *(f"results/tiny/tables/{t}.md" for t in TABLES[:3]),
        *(f"results/tiny/figures/{f}.png" for f in FIGURES),
    ]
    proc = snakemake(workdir, *targets, "--cores", 2, configfile=config, timeout=1500)
    assert proc.returncode == 0, show(proc, 10000)
    return workdir


def test_claims_pool_three_seeds_and_report_every_verdict(checks_run):
    for seed in SEEDS:  # each claims seed trained and evaluated its own explainers
        assert (checks_run / f"results/tiny/explainers/lmac/seed{seed}/model.pt").exists()
        assert (checks_run / f"results/tiny/evaluation/mixture/lmac_td_a0.75/seed{seed}.csv").exists()
    comparisons = pd.read_csv(checks_run / "results/tiny/tables/claims_seeds.csv")
    assert set(comparisons["verdict"]) <= {"PASS", "FAIL", "NOT RUN"}
    ran = comparisons[comparisons["verdict"] != "NOT RUN"]
    pooled = ran[ran["rule"] != "randomisation_degrades"]
    # L2I's tiny θ is at chance (docs/reproducibility_notes.md): a seed whose every test clip keeps no component
    # has an empty mask, whose sparseness is undefined, so an L2I comparison may pool fewer seeds, and says so
    l2i = pooled["versus"] == "l2i"
    assert len(ran) and (pooled.loc[~l2i, "n_seeds"] == 3).all() and pooled.loc[l2i, "n_seeds"].between(1, 3).all()
    # ig, shap, ... are not evaluated in this configuration: their comparisons say so
    assert comparisons.loc[comparisons["versus"] == "ig", "note"].str.contains("not evaluated").all()
    # claims.randomisation is off: the randomisation claims are NOT RUN, and say why
    randomisation = comparisons[comparisons["rule"].str.startswith("randomisation")]
    assert (randomisation["verdict"] == "NOT RUN").all()
    assert randomisation["note"].str.contains("claims.randomisation is false").all()
    md = (checks_run / "results/tiny/tables/claims_seeds.md").read_text()
    for claim in set(comparisons["claim"]):
        assert f"### {claim}:" in md
    assert f"Seeds {', '.join(map(str, SEEDS))}" in md
    assert {"claims_seeds.tex", "claims_seeds.html"} <= {p.name for p in (checks_run / "results/tiny/tables").iterdir()}
    assert (checks_run / "results/tiny/figures/claims_seeds.png").read_bytes()[:4] == b"\x89PNG"


def test_tables_and_figures_beyond_the_papers(checks_run):
    for table in TABLES[:3]:
        for ext in ("csv", "md", "tex"):
            assert (checks_run / f"results/tiny/tables/{table}.{ext}").stat().st_size > 0
    listen = pd.read_csv(checks_run / "results/tiny/tables/listenability.csv")
    assert set(listen["condition"]) == {"mixture"}  # clean has no separate clean target
    assert set(listen["method"]) == {"lmac", "lmac_ft", "lmac_td_a0", "lmac_td_a0.75", "l2i", "saliency", "all_ones"}
    assert listen.loc[listen["metric"] == "SI_SDR", "mean"].notna().all()
    ranks = pd.read_csv(checks_run / "results/tiny/tables/robustness_ranks.csv")
    # τ is NaN where an operator scores every method the same (e.g. AI = 0 for all on tiny models)
    assert set(ranks["condition"]) == {"clean", "mixture"} and ranks["kendall_tau"].dropna().between(-1, 1).all()
    for figure in FIGURES:
        assert (checks_run / f"results/tiny/figures/{figure}.png").stat().st_size > 0
        assert (checks_run / f"results/tiny/figures/{figure}.pdf").stat().st_size > 0


def test_checks_target_also_wants_the_sanity_outputs(checks_run):
    proc = snakemake(checks_run, "-n", "checks", configfile=checks_run / "checks.yaml")
    assert proc.returncode == 0, show(proc, 3000)
    assert "sanity_data_randomisation" in proc.stdout and "rule checks" in proc.stdout
    # with claims.randomisation on, the claims wait for the cascading summary
    sanity = checks_config(checks_run / "sanity.yaml", randomisation=True)
    proc = snakemake(checks_run, "-n", "claims_seeds", configfile=sanity)
    assert proc.returncode == 0, show(proc, 3000)
    assert "rule sanity_cascading_summary" in proc.stdout and "rule sanity_data_randomisation" not in proc.stdout
