"""End-to-end checks of the Snakemake workflow, run in temporary working directories.

The whole DAG runs once per session (``tiny_run``, tests/workflow/conftest.py) on ``tests/workflow/tiny.yaml``;
``configfile: "config/config.yaml"`` resolves against its working directory, where it is absent, which
Snakemake accepts because ``--configfile`` is given.
"""

from __future__ import annotations

import csv
import http.server
import json
import math
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, TINY, show, snakemake

from lmac.evaluation import catalogue

METRICS = list(catalogue.PAPER_METRICS)
LOCALISATION = list(catalogue.LOCALISATION.columns)
RANGES = {
    m.name: (m.low, m.high)
    for f in (catalogue.FAITHFULNESS, catalogue.COMPLEXITY, catalogue.LOCALISATION)
    for m in f.metrics
}
RULES = [
    "synthesize_dataset",
    "prepare_dataset",
    "train_classifier",
    "train_lmac",
    "train_lmac_ft",
    "pretrain_lmac_td_encoder_decoder",
    "train_lmac_td",
    "train_nmf",
    "train_l2i",
    "evaluate",
    "metrics_table",
    "paper_tables",
    "metrics_table_html",
    "faithfulness_bars",
    "localisation_bars",
    "alpha_ablation",
    "training_curves",
    "example_figure",
    "provenance",
    "claims",
    "claims_figure",
    "listening_page",
]
# the rules that can use a GPU (resources gpu and threads depend on the device)
GPU_RULES = (
    "train_classifier",
    "train_lmac",
    "train_lmac_ft",
    "pretrain_lmac_td_encoder_decoder",
    "train_lmac_td",
    "train_nmf",
    "train_l2i",
    "evaluate",
)
# what tests/workflow/tiny.yaml evaluates: lmac_td expands to one method per α (0 and 0.75)
TINY_METHODS = ["lmac", "lmac_ft", "lmac_td_a0", "lmac_td_a0.75", "l2i", "saliency", "all_ones"]
TINY_CONDITIONS = ["clean", "mixture"]
TINY_ITEMS = {"clean": 3, "mixture": 6}  # 3 test clips; mixtures have 2 versions per clip
LOGS = {  # rule -> its logs under the working directory, for the tiny run
    "synthesize_dataset": ["logs/tiny/data/synthesize_dataset.log"],
    "prepare_dataset": ["logs/tiny/data/prepare_synthetic.log"],
    "train_classifier": ["logs/tiny/classifier/train_classifier.log"],
    "train_lmac": ["logs/tiny/explainers/lmac/seed1234.log"],
    "train_lmac_ft": ["logs/tiny/explainers/lmac_ft/seed1234.log"],
    "pretrain_lmac_td_encoder_decoder": ["logs/tiny/explainers/lmac_td_encoder_decoder.log"],
    "train_lmac_td": [
        "logs/tiny/explainers/lmac_td_a0/seed1234.log",
        "logs/tiny/explainers/lmac_td_a0.75/seed1234.log",
    ],
    "train_nmf": ["logs/tiny/explainers/l2i_nmf.log"],
    "train_l2i": ["logs/tiny/explainers/l2i/seed1234.log"],
    # evaluation.group: condition (the default): one job per condition evaluates every method
    "evaluate": [f"logs/tiny/evaluate/{c}/seed1234.log" for c in TINY_CONDITIONS],
    "metrics_table": ["logs/tiny/report/metrics_table.log"],
    "paper_tables": ["logs/tiny/report/paper_tables.log"],
    "metrics_table_html": ["logs/tiny/report/metrics_table_html.log"],
    "faithfulness_bars": ["logs/tiny/report/faithfulness_bars.log"],
    "localisation_bars": ["logs/tiny/report/localisation_bars.log"],
    "alpha_ablation": ["logs/tiny/report/alpha_ablation.log"],
    "training_curves": [f"logs/tiny/report/training_curves/{m}.log" for m in ["classifier", *TINY_METHODS[:5]]],
    # report.n_examples (2) clips on the first condition, one on the others
    "example_figure": [
        "logs/tiny/report/example_figure/clean/example1.log",
        "logs/tiny/report/example_figure/clean/example2.log",
        "logs/tiny/report/example_figure/mixture/example1.log",
    ],
    "provenance": ["logs/tiny/report/provenance.log"],
    # the claims on the run's seed (part of `all`) and their figure
    "claims": ["logs/tiny/checks/claims.log"],
    "claims_figure": ["logs/tiny/checks/claims_figure.log"],
    # the report's listening page (part of `all`)
    "listening_page": ["logs/tiny/listening/page.log"],
}
BENCHMARKS = [
    "benchmarks/tiny/classifier/train_classifier.tsv",
    "benchmarks/tiny/explainers/lmac/seed1234.tsv",
    "benchmarks/tiny/explainers/lmac_td_encoder_decoder.tsv",
    "benchmarks/tiny/explainers/lmac_ft/seed1234.tsv",
    "benchmarks/tiny/explainers/lmac_td_a0/seed1234.tsv",
    "benchmarks/tiny/explainers/l2i_nmf.tsv",
    "benchmarks/tiny/explainers/l2i/seed1234.tsv",
    *(f"benchmarks/tiny/evaluate/{c}/seed1234.tsv" for c in TINY_CONDITIONS),
]


def tiny_config() -> dict:
    return yaml.safe_load(TINY.read_text())


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def job_blocks(output: str) -> dict[str, str]:
    """rule name -> the text of its job block (the rule line and its indented lines) in a dry run."""
    blocks: dict[str, str] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        match = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if match and not line.startswith(" "):
            current = blocks.setdefault(match.group(1), [])
        elif current is not None and line.startswith("    "):
            current.append(line)
        else:
            current = None
    return {rule: "\n".join(lines) for rule, lines in blocks.items()}


# --------------------------------------------------------------------------------------------
# the whole DAG on the tiny configuration (tiny_run)


def test_tiny_config_is_valid():
    from lmac.config import check_config

    check_config(tiny_config(), REPO / "workflow" / "schemas" / "config.schema.yaml")


def test_metrics_csv(tiny_run):
    rows = read_csv(tiny_run / "results/tiny/tables/metrics.csv")
    blocks = {(r["condition"], r["method"]) for r in rows}
    assert blocks == {(c, m) for c in TINY_CONDITIONS for m in TINY_METHODS}
    for condition, method in blocks:
        metrics = [r["metric"] for r in rows if (r["condition"], r["method"]) == (condition, method)]
        assert metrics == METRICS + LOCALISATION, (condition, method)
    for row in rows:
        assert row["split"] == "test"
        mean, lo, hi = float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])
        assert all(math.isfinite(v) for v in (mean, lo, hi)), row
        assert lo - 1e-9 <= mean <= hi + 1e-9, row
        low, high = RANGES[row["metric"]]
        assert low - 1e-9 <= lo and hi <= high + 1e-9, row
        if row["metric"] in (*catalogue.FAITHFULNESS.columns, "MM"):
            assert int(row["n"]) == TINY_ITEMS[row["condition"]], row


def test_metrics_csv_agrees_with_per_sample_scores(tiny_run):
    rows = read_csv(tiny_run / "results/tiny/tables/metrics.csv")
    for condition in TINY_CONDITIONS:
        for method in TINY_METHODS:
            per_sample = read_csv(tiny_run / f"results/tiny/evaluation/{condition}/{method}/seed1234.csv")
            table = {
                r["metric"]: float(r["mean"]) for r in rows if (r["condition"], r["method"]) == (condition, method)
            }
            for metric in METRICS:
                values = [float(r[metric]) for r in per_sample if r[metric] != ""]
                assert table[metric] == pytest.approx(sum(values) / len(values), rel=1e-6, abs=1e-9), metric


def test_metrics_markdown(tiny_run):
    text = (tiny_run / "results/tiny/tables/metrics.md").read_text()
    lines = text.splitlines()
    assert sum(line.startswith("### Condition:") for line in lines) == len(TINY_CONDITIONS)
    header = next(line for line in lines if line.startswith("| method |"))
    for metric in METRICS + LOCALISATION:
        assert metric in header, metric
    for method in TINY_METHODS:
        rows = [line for line in lines if line.startswith(f"| {method} |")]
        assert len(rows) == len(TINY_CONDITIONS), method
        assert rows[0].count("|") == len(METRICS) + len(LOCALISATION) + 3
    accuracy = json.loads((tiny_run / "results/tiny/classifier/metrics.json").read_text())["test_accuracy"]
    assert f"Classifier test accuracy (clean test clips): {100 * accuracy:.1f} %" in text
    tex = (tiny_run / "results/tiny/tables/metrics.tex").read_text()
    assert tex.count(r"\begin{tabular}") == len(TINY_CONDITIONS)


def test_metrics_json(tiny_run):
    nested = json.loads((tiny_run / "results/tiny/tables/metrics.json").read_text())
    for condition in TINY_CONDITIONS:
        assert set(nested[condition]) == set(TINY_METHODS)
        assert set(nested[condition]["lmac"]) == set(METRICS + LOCALISATION)
    assert 0 <= nested["classifier_test_accuracy"] <= 1


def test_example_figure_is_a_png(tiny_run):
    png = tiny_run / "results/tiny/figures/examples/mixture/example1.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 200 and height >= 200, (width, height)


def test_per_sample_rows_are_the_test_fold(tiny_run):
    manifest = read_csv(tiny_run / "results/tiny/data/synthetic/manifest.csv")
    test_ids = {r["id"] for r in manifest if r["split"] == "test"}
    assert len(test_ids) == 3
    assert {r["fold"] for r in manifest if r["split"] == "test"} == {"5"}
    for condition in TINY_CONDITIONS:
        rows = read_csv(tiny_run / f"results/tiny/evaluation/{condition}/lmac/seed1234.csv")
        assert len(rows) == TINY_ITEMS[condition]
        assert {r["id"] for r in rows} == test_ids
        assert {(r["method"], r["split"], r["condition"], r["seed"]) for r in rows} == {
            ("lmac", "test", condition, "1234")
        }
        # the synthetic dataset knows each clip's event: localisation is defined for every item
        assert all(r["RMA"] != "" for r in rows)


def test_every_rule_logged_and_gpu_rules_benchmarked(tiny_run):
    logs = sorted(p.relative_to(tiny_run).as_posix() for p in (tiny_run / "logs").rglob("*") if p.is_file())
    assert logs == sorted(log for paths in LOGS.values() for log in paths)
    for rule, paths in LOGS.items():
        for log in paths:
            text = (tiny_run / log).read_text()
            assert text.strip(), f"{log} is empty"
            assert f"rule {rule} finished" in text, f"{log}:\n{text}"
            assert "Traceback" not in text
    for bench in BENCHMARKS:
        lines = (tiny_run / bench).read_text().splitlines()
        assert len(lines) == 2, bench  # header + one run
        header, values = lines[0].split("\t"), lines[1].split("\t")
        assert header[:2] == ["s", "h:m:s"] and "max_rss" in header, bench
        assert len(values) == len(header) and float(values[0]) > 0, bench


def test_training_logs_show_progress_with_eta(tiny_run):
    for log, epochs in (
        (LOGS["train_classifier"][0], 2),
        (LOGS["train_lmac"][0], 2),
        (LOGS["train_lmac_ft"][0], 1),
        (LOGS["train_lmac_td"][1], 1),
    ):
        progress = [line for line in (tiny_run / log).read_text().splitlines() if "ETA" in line]
        # the loop logs at least the last step of every epoch
        for epoch in range(1, epochs + 1):
            assert any(f"epoch {epoch}/{epochs}" in line for line in progress), log


def test_listenable_explanations_for_every_method(tiny_run):
    import numpy as np

    for method in TINY_METHODS:
        data = np.load(tiny_run / "results" / "tiny" / "explanations" / "mixture" / method / "seed1234.npz")
        assert data["waveform"].shape == data["input"].shape == data["target"].shape, method
        assert np.isfinite(data["waveform"]).all() and np.abs(data["waveform"]).max() > 0, method


def test_second_dry_run_has_nothing_to_do(tiny_run):
    proc = snakemake(tiny_run, "--cores", 2, "-n", configfile=TINY, timeout=120)
    assert proc.returncode == 0, show(proc)
    assert "Nothing to be done" in proc.output, show(proc)


# --------------------------------------------------------------------------------------------
# static checks: lint, DAG of the default configuration, resources


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", snakefile=None, profile=None, timeout=120)
    assert proc.returncode == 0, show(proc)
    assert "Lints for" not in proc.output, show(proc)


@pytest.fixture(scope="module")
def clean_clone_dir(tmp_path_factory) -> Path:
    """A working directory holding only a copy of config/ (what a fresh clone has)."""
    workdir = tmp_path_factory.mktemp("default_dag")
    shutil.copytree(REPO / "config", workdir / "config")
    return workdir


@pytest.mark.parametrize("profile", ["none", "default"])
def test_default_dry_run_lists_every_rule(clean_clone_dir, profile):
    proc = snakemake(clean_clone_dir, "-n", profile="none" if profile == "none" else None, timeout=120)
    assert proc.returncode == 0, show(proc)
    assert ("Using workflow specific profile" in proc.output) == (profile == "default"), show(proc)
    blocks = job_blocks(proc.output)
    for rule in RULES:
        assert rule in blocks, f"{rule} not in the dry run:\n{proc.output}"
    assert "download_esc50" not in blocks
    # a dry run writes nothing but Snakemake's own metadata
    assert sorted(p.name for p in clean_clone_dir.iterdir()) == [".snakemake", "config"]

    for rule in GPU_RULES:
        resources = next((line for line in blocks[rule].splitlines() if line.strip().startswith("resources:")), "")
        # a dry run shows what a cluster job would ask for
        assert "gpu=1" in resources, f"{rule}: {resources!r}"
        assert "mem_mb=" in resources and "runtime=" in resources, f"{rule}: {resources!r}"


def test_local_cpu_run_schedules_gpu_rules_side_by_side(tiny_run):
    """On this CPU-only machine no job holds the `gpu` resource and each takes one thread, so --cores 2
    runs two at once (a dry run and a cluster job keep the GPU request: see the dry-run test)."""
    blocks = job_blocks((tiny_run / "snakemake.out").read_text())
    for rule in GPU_RULES:
        resources = next(line for line in blocks[rule].splitlines() if line.strip().startswith("resources:"))
        # the classifier trains alone, so it takes both cores
        threads = "threads: 2" in blocks[rule] if rule == "train_classifier" else "threads:" not in blocks[rule]
        assert "gpu=0" in resources and threads, f"{rule}: {blocks[rule]}"


def test_each_seed_trains_and_evaluates_its_own_explainers(tmp_path):
    config = {**tiny_config(), "seeds": [7, 11]}
    configfile = write_config(tmp_path / "seeds.yaml", config)
    proc = snakemake(tmp_path, "-n", configfile=configfile, timeout=120)
    assert proc.returncode == 0, show(proc)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.output, flags=re.M))
    assert counts["train_classifier"] == "1"  # one classifier: the explainers of every seed explain it
    assert counts["train_lmac"] == counts["train_lmac_ft"] == "2"
    assert counts["train_lmac_td"] == "4"  # two α × two seeds
    assert counts["evaluate"] == str(len(TINY_CONDITIONS) * 2)  # one job per condition and seed
    for seed in (7, 11):
        assert f"results/tiny/explainers/lmac/seed{seed}/model.pt" in proc.output
        assert f"results/tiny/evaluation/mixture/lmac_td_a0.75/seed{seed}.csv" in proc.output
    assert "seed1234" not in proc.output


def test_evaluation_group_method_spreads_one_job_per_method(tmp_path):
    config = tiny_config()
    config["evaluation"]["group"] = "method"
    configfile = write_config(tmp_path / "per_method.yaml", config)
    proc = snakemake(tmp_path, "-n", configfile=configfile, timeout=120)
    assert proc.returncode == 0, show(proc)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.output, flags=re.M))
    assert counts["evaluate"] == str(len(TINY_METHODS) * len(TINY_CONDITIONS))
    assert "logs/tiny/evaluate/mixture/lmac_td_a0.75/seed1234.log" in proc.output


# --------------------------------------------------------------------------------------------
# failures: bad configuration, a failing job


def _assert_config_rejected(tmp_path: Path, config: dict, needle: str) -> None:
    configfile = write_config(tmp_path / "bad.yaml", config)
    proc = snakemake(tmp_path, "--cores", 2, configfile=configfile, timeout=120)
    assert proc.returncode != 0, show(proc)
    assert needle in proc.output, show(proc)
    assert "Traceback" not in proc.output, show(proc)
    for produced in ("results", "resources", "logs", "benchmarks"):
        assert not (tmp_path / produced).exists(), f"{produced}/ was created despite the bad config"


def test_bad_value_is_rejected_before_any_job(tmp_path):
    config = tiny_config()
    config["classifier"]["epochs"] = 0
    _assert_config_rejected(tmp_path, config, "config key 'classifier.epochs'")


def test_misspelt_key_is_named(tmp_path):
    config = tiny_config()
    config["lmac"]["mask_domian"] = config["lmac"].pop("mask_domain")
    _assert_config_rejected(tmp_path, config, "mask_domian")


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_error(404, "Not Found")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_404():
    """A local server (127.0.0.1 only) that answers every request with 404."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_failing_download_ends_with_one_line_error(tmp_path, http_404):
    # A 404 is a client error the downloader does not retry, so the job fails at once. (A closed
    # port is retried 5 times with backoff, ~1 min per attempt, times the rule's `retries: 2`.)
    # The rule's `retries: 2` takes precedence over `--retries 0`: 3 attempts of a few seconds each.
    config = tiny_config()
    config["dataset"]["name"] = "esc50"
    config["dataset"]["esc50"]["url"] = f"{http_404}/x.zip"
    configfile = write_config(tmp_path / "esc50.yaml", config)
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    proc = snakemake(tmp_path, "--cores", 2, "--retries", 0, configfile=configfile, timeout=180, env=env)
    assert proc.returncode != 0, show(proc)
    assert "Error in rule download_esc50" in proc.output, show(proc)
    assert "Traceback" not in proc.output, show(proc)
    log = (tmp_path / "logs/tiny/data/download_esc50.log").read_text()
    last = log.strip().splitlines()[-1]
    assert "ERROR" in last and "lmac" in last, log
    assert "HTTP 404" in last and "x.zip" in last, log
    assert "Traceback" not in log, log
    # Snakemake removed the failed job's outputs; nothing downstream ran
    assert not (tmp_path / "resources/esc50").exists()
    assert not (tmp_path / "results").exists()


def test_explanations_hold_a_mask_for_every_evaluated_clip(tiny_run):
    import numpy as np
    import pandas as pd

    root = tiny_run
    data = np.load(root / "results" / "tiny" / "explanations" / "clean" / "lmac" / "seed1234.npz")
    per_clip = pd.read_csv(root / "results" / "tiny" / "evaluation" / "clean" / "lmac" / "seed1234.csv")
    assert list(data["mask_ids"]) == per_clip["id"].tolist()
    masks = data["masks"].astype(np.float32)
    assert masks.shape[0] == len(per_clip) and masks.ndim == 3
    assert masks.min() >= 0 and masks.max() <= 1
    np.testing.assert_allclose(masks.reshape(len(masks), -1).mean(1), per_clip["MM"], atol=2e-3)


def test_readme_quick_look_command_plans(tmp_path):
    """The README's narrowed run: evaluation.methods without LMAC-TD also narrows the sanity retraining."""
    readme = (REPO / "README.md").read_text()
    override = re.search(r"--config (evaluation='\{[^']*\}')", readme).group(1)
    value = override.split("=", 1)[1].strip("'")
    shutil.copytree(REPO / "config", tmp_path / "config")
    proc = snakemake(tmp_path, "--cores", 2, "--config", f"evaluation={value}", "-n", timeout=120)
    assert proc.returncode == 0, show(proc)
    assert "train_lmac_td" not in proc.output and "evaluate" in proc.output, show(proc)
    # its own run folder: the narrowed tables never overwrite the full run's
    assert "results/embedded-" in proc.output and "results/embedded/" not in proc.output, show(proc)


def test_claims_only_seeds_train_only_what_the_claims_compare(tmp_path):
    """`make claims`: seeds 1235 and 1236 evaluate the claims' methods only, so no LMAC-TD α = 0 is trained for them."""
    proc = snakemake(tmp_path, "claims_seeds", "-n", configfile=TINY, timeout=120)
    assert proc.returncode == 0, show(proc)
    blocks = re.findall(r"rule (\w+):\n((?:    .*\n)+)", proc.output)
    trained_td = sorted(
        re.search(r"wildcards: (.*)", body).group(1) for rule, body in blocks if rule == "train_lmac_td"
    )
    assert trained_td == [
        "alpha=0, seed=1234",
        "alpha=0.75, seed=1234",
        "alpha=0.75, seed=1235",
        "alpha=0.75, seed=1236",
    ], trained_td
    claims_jobs = [body for rule, body in blocks if rule == "evaluate_claims_seed"]
    assert len(claims_jobs) == 2 and all("lmac_td_a0/" not in body for body in claims_jobs), show(proc)
    # any other method of such a seed is still evaluated on demand, by the rule that runs every method
    other = snakemake(
        tmp_path, "results/tiny/evaluation/mixture/lmac_td_a0/seed1235.csv", "-n", configfile=TINY, timeout=120
    )
    assert other.returncode == 0 and "rule evaluate:" in other.output, show(other)
