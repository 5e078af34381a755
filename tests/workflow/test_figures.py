"""Figures, the HTML report and the `figures` target on the shared run of the whole DAG (``tiny_run``,
``tests/workflow/tiny.yaml``); the test that deletes figures does so in a copy of it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
from snakemake_runs import REPO, TINY, copy_run, job_counts, show, snakemake

CAPTIONS = REPO / "workflow" / "report"

CONDITIONS = ["clean", "mixture"]
N_EXAMPLES = 2
TRAINED = ["classifier", "lmac", "lmac_ft", "lmac_td_a0", "lmac_td_a0.75", "l2i"]
# every figure (PNG + PDF); examples: N_EXAMPLES clips on the first condition, one on the others
FIGURES = [
    "metrics_faithfulness",
    "metrics_localisation",
    "alpha_ablation",
    "claims",
    *(f"training/{m}" for m in TRAINED),
    *(f"examples/clean/example{k}" for k in range(1, N_EXAMPLES + 1)),
    "examples/mixture/example1",
]
FIGURE_RULES = {
    "metrics_table_html",
    "faithfulness_bars",
    "localisation_bars",
    "alpha_ablation",
    "training_curves",
    "example_figure",
    "figures",
    "claims_figure",
}
# the caption of each result in the report (workflow/report/<caption>.rst)
REPORTED = {
    "results/tiny/tables/metrics.html": "metrics_table",
    "results/tiny/figures/metrics_faithfulness.png": "faithfulness_bars",
    "results/tiny/figures/metrics_localisation.png": "localisation_bars",
    "results/tiny/figures/alpha_ablation.png": "alpha_ablation",
    **{f"results/tiny/figures/training/{m}.png": "training_curves" for m in TRAINED},
    **{f"results/tiny/figures/{name}.png": "examples" for name in FIGURES if name.startswith("examples/")},
    # the claims on the run's seed, part of `all`
    "results/tiny/tables/claims.html": "claims",
    "results/tiny/figures/claims.png": "claims_figure",
    # the listening page (docs/listening.md), part of `all`
    "results/tiny/listening/page.html": "listening_page",
}


def test_every_figure_is_a_png_and_a_pdf(tiny_run):
    workdir = tiny_run
    for name in FIGURES:
        png, pdf = workdir / f"results/tiny/figures/{name}.png", workdir / f"results/tiny/figures/{name}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000, name
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000, name
    html = (workdir / "results/tiny/tables/metrics.html").read_text()
    assert html.count("<table") == len(CONDITIONS)
    for log in [
        "logs/tiny/report/faithfulness_bars.log",
        "logs/tiny/report/example_figure/mixture/example1.log",
        "logs/tiny/report/training_curves/lmac_td_a0.75.log",
    ]:
        assert "finished in" in (workdir / log).read_text(), log


def test_report_holds_every_figure_and_table_with_its_caption(tiny_run, tmp_path):
    out = tmp_path / "report.html"
    proc = snakemake(tiny_run, "--report", out, configfile=TINY, timeout=300)
    assert proc.returncode == 0, show(proc)
    text = out.read_text()
    results = json.loads(re.search(r"var results = (\{.*?\});\n", text, re.S).group(1))
    assert set(results) == set(REPORTED)
    for path, caption in REPORTED.items():
        # the caption's first sentence up to its colon, wildcards filled in
        lead = (CAPTIONS / f"{caption}.rst").read_text().split(":", 1)[0]
        wildcards = {"model": Path(path).stem, "condition": Path(path).parent.name, "example": Path(path).stem[7:]}
        lead = re.sub(r"\{\{ snakemake\.wildcards\.(\w+) \}\}", lambda m, values=wildcards: values[m.group(1)], lead)
        assert " ".join(lead.split()) in " ".join(results[path]["caption"].split()), (path, lead)
        assert results[path]["data_uri"].startswith("data:" + ("text/html" if path.endswith("html") else "image/png"))
    assert results["results/tiny/figures/examples/mixture/example1.png"]["labels"] == {
        "condition": "mixture",
        "example": "1",
    }
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", text, re.S).group(1))
    assert set(categories) == {"Metrics", "Training", "Examples", "Beyond the papers", "Listening"}
    assert set(categories["Examples"]) == set(CONDITIONS)
    assert "lmac: L-MAC and LMAC-TD explanations, reproduced end to end." in text


def test_make_figures_forcerun_list_reruns_only_figures_and_tables(tiny_run):
    makefile = (REPO / "Makefile").read_text()
    assert "$(BIN)/snakemake figures --cores $(CORES) --rerun-triggers mtime --forcerun $(FIGURE_RULES)" in makefile
    rules = re.search(r"^FIGURE_RULES := (.*?)(?<!\\)$", makefile, re.S | re.M).group(1).replace("\\\n", " ").split()
    proc = snakemake(
        tiny_run, "figures", "--rerun-triggers", "mtime", "--forcerun", *rules, "-n", configfile=TINY, timeout=120
    )
    assert proc.returncode == 0, show(proc)
    counts = job_counts(proc.output)
    assert set(counts) == FIGURE_RULES | {"metrics_table", "paper_tables", "claims"}, show(proc)
    assert counts["example_figure"] == N_EXAMPLES + len(CONDITIONS) - 1
    assert counts["training_curves"] == len(TRAINED)


def test_figures_target_after_deleting_figures_runs_only_figure_jobs(tiny_run, tmp_path):
    workdir = copy_run(tiny_run, tmp_path / "run")
    shutil.rmtree(workdir / "results/tiny/figures")
    proc = snakemake(workdir, "figures", "--cores", 2, configfile=TINY, timeout=600)
    assert proc.returncode == 0, show(proc)
    counts = job_counts(proc.output)
    assert set(counts) == FIGURE_RULES - {"metrics_table_html"}, show(proc)
    for name in FIGURES:
        assert (workdir / f"results/tiny/figures/{name}.png").is_file() and (
            workdir / f"results/tiny/figures/{name}.pdf"
        ).is_file()
    again = snakemake(workdir, "-n", configfile=TINY, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.output, show(again)


def test_listening_test_target_builds_the_kit_and_the_analysis_reads_its_ratings(tiny_run, tmp_path):
    from listening_fixture import simulated_ratings

    workdir = copy_run(tiny_run, tmp_path / "run")
    proc = snakemake(workdir, "listening_test", "--cores", 1, configfile=TINY, timeout=300)
    assert proc.returncode == 0, show(proc)
    trials = pd.read_csv(workdir / "results/tiny/listening/test/trials.csv")
    # the default: every learned method, every condition but clean, report.n_examples clips each
    assert set(trials["condition"]) == {"mixture"} and trials["trial"].nunique() == N_EXAMPLES
    assert set(trials["stimulus"]) == {"reference", "anchor", "lmac", "lmac_ft", "lmac_td_a0", "lmac_td_a0.75", "l2i"}
    assert all((workdir / "results/tiny/listening/test" / f).is_file() for f in trials["file"])
    assert (workdir / "results/tiny/listening/test/index.html").stat().st_size > 10_000
    ratings = workdir / "results/tiny/listening/ratings"
    ratings.mkdir(parents=True)
    true_means = {
        "reference": 100,
        "anchor": 15,
        "lmac": 40,
        "lmac_ft": 45,
        "lmac_td_a0": 65,
        "lmac_td_a0.75": 70,
        "l2i": 20,
    }
    simulated_ratings(ratings, true_means, participants=10, trials=N_EXAMPLES)
    proc = snakemake(workdir, "listening_analysis", "--cores", 1, configfile=TINY, timeout=300)
    assert proc.returncode == 0, show(proc)
    verdict = pd.read_csv(workdir / "results/tiny/listening/analysis/verdict.csv")
    assert verdict["verdict"].iloc[-1] == "PASS", verdict
    assert (workdir / "results/tiny/listening/analysis/scores.png").stat().st_size > 5_000
