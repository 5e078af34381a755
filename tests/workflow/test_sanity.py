"""`snakemake sanity` on a shrunk tiny configuration.

The dry-run test checks the DAG of every retrained decoder (cheap); ``sanity_run`` runs the target in a
copy of the shared tiny run, whose classifier and L-MAC it reuses (tiny: 3 test clips, 2 explained; L-MAC
retrained at steps 0 and 7 and on the permuted classifier), and the tests check every output and its ranges.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from snakemake_runs import TINY, copy_run, show, snakemake

STEPS = list(range(8))
METHODS = ["lmac", "saliency", "all_ones"]
N_CLIPS = 2


def shrunk(tmp_path: Path, **sanity) -> Path:
    config = yaml.safe_load(TINY.read_text())
    config["evaluation"]["methods"] = METHODS
    config["sanity"].update(
        n_clips=N_CLIPS, retrain_methods=["lmac"], retrain_steps=[0, 7], retrain_epochs=1, permuted_epochs=2, **sanity
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_dry_run_retrains_each_learned_method_per_step_and_on_the_permuted_classifier(tmp_path):
    config = yaml.safe_load(shrunk(tmp_path).read_text())
    config["evaluation"]["methods"] = ["lmac", "lmac_ft", "lmac_td", "saliency"]
    config["sanity"].update(retrain_methods=["lmac", "lmac_ft", "lmac_td"], retrain_steps=[0, 3])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "sanity", "-n", "--cores", "2", configfile=tmp_path / "config.yaml")
    assert proc.returncode == 0, show(proc)
    out = proc.output
    for method in ("lmac", "lmac_ft", "lmac_td_a0", "lmac_td_a0.75"):
        for variant in ("step0", "step3", "permuted"):
            assert f"results/tiny/sanity/retrained/{variant}/{method}/seed1234/model.pt" in out, (method, variant)
        assert f"results/tiny/sanity/retrained/step7/{method}" not in out
    # the randomised classifier is written only for the retrained steps > 0; step 0 is the trained one
    assert "results/tiny/sanity/classifiers/step3/seed1234/model.pt" in out
    assert "classifiers/step0" not in out
    counts = dict(re.findall(r"^(sanity_\w+)\s+(\d+)$", out, flags=re.M))
    assert counts["sanity_retrain_lmac_td"] == "6" and counts["sanity_retrain_lmac_ft"] == "3"
    assert counts["sanity_checks"] == "5"  # one per method and seed; lmac_td = two methods


@pytest.fixture(scope="module")
def sanity_run(tiny_run, tmp_path_factory) -> Path:
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("sanity") / "run")
    proc = snakemake(workdir, "sanity", "--cores", "2", configfile=shrunk(workdir), timeout=1200)
    assert proc.returncode == 0, show(proc)
    # the run's classifier and L-MAC are reused: only the sanity checks' own jobs ran
    assert not {"train_classifier", "train_lmac"} & set(re.findall(r"^rule (\w+):", proc.output, re.M)), show(proc)
    return workdir


def test_every_sanity_output_is_made(sanity_run):
    for check in ("cascading", "data_randomisation", "random_logit"):
        for suffix in (".csv", "_summary.csv", "_summary.md", "_summary.tex", "_summary.html"):
            assert (sanity_run / f"results/tiny/sanity/{check}{suffix}").stat().st_size > 0, (check, suffix)
    for figure in ("sanity_cascading", "sanity_data_randomisation"):
        for ext in ("png", "pdf"):
            assert (sanity_run / f"results/tiny/figures/{figure}.{ext}").stat().st_size > 1000
    metrics = yaml.safe_load((sanity_run / "results/tiny/sanity/classifiers/permuted/metrics.json").read_text())
    assert metrics["permuted_labels"] is True and 0 <= metrics["train_accuracy"] <= 1


def test_cascading_rows(sanity_run):
    rows = read_csv(sanity_run / "results/tiny/sanity/cascading.csv")
    assert list(rows[0]) == ["method", "seed", "decoder", "step", "block", "id", "spearman", "ssim"]
    runs = {(r["method"], r["decoder"]) for r in rows}
    assert runs == {("lmac", "fixed"), ("lmac", "retrained"), ("saliency", "none"), ("all_ones", "none")}
    for method, decoder in runs:
        steps = sorted({int(r["step"]) for r in rows if (r["method"], r["decoder"]) == (method, decoder)})
        assert steps == ([0, 7] if decoder == "retrained" else STEPS), (method, decoder)
    for row in rows:
        spearman, ssim = float(row["spearman"]), float(row["ssim"])
        assert -1 <= spearman <= 1 and -1 <= ssim <= 1, row
        if row["step"] == "0" and row["decoder"] != "retrained":
            assert spearman == pytest.approx(1) and ssim == pytest.approx(1), row  # the reference itself
        if row["method"] == "all_ones":
            assert spearman == pytest.approx(1) and ssim == pytest.approx(1), row  # model-independent: fails
    summary = read_csv(sanity_run / "results/tiny/sanity/cascading_summary.csv")
    assert len(summary) == 3 * len(STEPS) + 2
    for row in summary:
        assert int(row["n"]) == N_CLIPS
        for score in ("spearman", "ssim"):
            lo, mean, hi = (float(row[f"{score}_{k}"]) for k in ("ci_low", "mean", "ci_high"))
            assert lo - 1e-9 <= mean <= hi + 1e-9, row


def test_data_randomisation_and_random_logit_rows(sanity_run):
    rows = read_csv(sanity_run / "results/tiny/sanity/data_randomisation.csv")
    assert {(r["method"], r["decoder"]) for r in rows} == {
        ("lmac", "fixed"),
        ("lmac", "retrained"),
        ("saliency", "none"),
        ("all_ones", "none"),
    }
    assert all(-1 <= float(r["spearman"]) <= 1 and r["classifier"] == "permuted" for r in rows)
    logit = {r["method"]: r for r in read_csv(sanity_run / "results/tiny/sanity/random_logit_summary.csv")}
    # not applicable: no score (an empty CSV cell, NaN for pandas) and the reason
    assert logit["lmac"]["spearman_mean"] == "" and "not applicable" in logit["lmac"]["note"]
    assert logit["all_ones"]["spearman_mean"] == "" and int(logit["all_ones"]["n"]) == 0
    assert -1 <= float(logit["saliency"]["spearman_mean"]) <= 1 and int(logit["saliency"]["n"]) == N_CLIPS


def test_retraining_a_method_that_is_not_evaluated_is_a_one_line_error(tmp_path):
    config = yaml.safe_load(shrunk(tmp_path).read_text())
    config["sanity"]["retrain_methods"] = ["lmac_td_a0.5"]  # tiny's alphas: 0 and 0.75
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "sanity", "-n", "--cores", "1", configfile=tmp_path / "config.yaml")
    assert proc.returncode != 0
    assert "sanity.retrain_methods': lmac_td_a0.5 is not a learned method of this configuration" in proc.output
    assert "Traceback" not in proc.output


def test_sanity_logs_benchmarks_and_a_second_run_has_nothing_to_do(sanity_run):
    logs = {
        p.relative_to(sanity_run / "logs" / "tiny" / "sanity").as_posix()
        for p in (sanity_run / "logs" / "tiny" / "sanity").rglob("*.log")
    }
    expected = {
        *(f"checks/{m}/seed1234.log" for m in METHODS),
        "classifiers/permuted.log",
        "classifiers/step7/seed1234.log",
        *(f"retrained/{v}/lmac/seed1234.log" for v in ("step0", "step7", "permuted")),
        *(f"{c}_summary.log" for c in ("cascading", "data_randomisation", "random_logit")),
    }
    assert logs == expected
    for log in logs:
        text = (sanity_run / "logs" / "tiny" / "sanity" / log).read_text()
        assert "finished in" in text and "Traceback" not in text, log
    for method in METHODS:
        assert (sanity_run / f"benchmarks/tiny/sanity/checks/{method}/seed1234.tsv").is_file()
    proc = snakemake(sanity_run, "sanity", "-n", "--cores", "2", configfile=sanity_run / "config.yaml")
    assert proc.returncode == 0 and "Nothing to be done" in proc.output, proc.output
