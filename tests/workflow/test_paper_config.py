"""config/paper.yaml (the papers' protocol) and the workflow pieces only it uses.

* the paper configuration is complete and valid, and its dry run lays out the whole DAG with no data
  present: the job counts are computed from the configuration, not written down;
* classifier checkpoints given by URL are fetched by ``download_classifier`` from a loopback server
  (never the network) and really initialise the classifier;
* the ``paper_tables`` rule renders on the tiny configuration.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from esc50_fixture import serve_files, sha256_of
from snakemake_runs import REPO, TINY, show, snakemake

from lmac.smoke.standins import speechbrain_checkpoints

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PAPER = REPO / "config" / "paper.yaml"
LOOPBACK = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def schema_keys(node: dict, defs: dict, prefix: str = "") -> list[str]:
    """Every key path the schema declares (objects with properties are walked, $refs followed)."""
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **node}
    keys = []
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        keys.append(path)
        keys += schema_keys(child, defs, path)
    return keys


def has_key(config: dict, path: str) -> bool:
    """Whether ``path`` is set; a key set to null sets its sub-keys too (``clips_per_split: null``: every clip)."""
    node = config
    for part in path.split("."):
        if node is None:
            return True
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# --------------------------------------------------------------------------------------------
# the configuration itself


def test_paper_config_sets_every_key_the_schema_knows():
    from lmac.config import check_config

    paper, schema = load(PAPER), load(SCHEMA)
    check_config(paper, SCHEMA)
    missing = [key for key in schema_keys(schema, schema.get("$defs", {})) if not has_key(paper, key)]
    assert not missing, f"config/paper.yaml lacks: {', '.join(missing)}"


def test_paper_config_runs_the_papers_protocol():
    from lmac.evaluation.conditions import CONDITIONS
    from lmac.explainers.gradient import BASELINES

    paper = load(PAPER)
    methods = paper["evaluation"]["methods"]
    assert set(BASELINES) <= set(methods), f"baselines not evaluated: {set(BASELINES) - set(methods)}"
    assert {"lmac", "lmac_ft", "lmac_td"} <= set(methods)
    assert paper["evaluation"]["conditions"] == list(CONDITIONS)
    assert len(paper["seeds"]) >= 3 and sorted(paper["lmac_td"]["alphas"]) == [0, 0.75, 1]
    assert paper["dataset"]["name"] == "esc50" and paper["dataset"]["clip_seconds"] == 5.0
    assert paper["noise"]["source"] == "wham" and paper["evaluation"]["speech"] == "ljspeech"
    assert paper["classifier"]["width"] == 1.0 and paper["device"] == "cuda"
    assert paper["classifier"]["init_checkpoint"].startswith("https://huggingface.co/speechbrain/cnn14-esc50/")
    assert paper["baselines"]["ig"]["n_steps"] == 50 and paper["baselines"]["smoothgrad"]["n_samples"] == 50
    assert paper["classifier"]["noise"]["enabled"] and paper["classifier"]["scheduler"]["type"] == "cyclic"


def test_paper_lmac_td_is_the_published_size():
    from lmac.explainers.lmac_td_presets import TDArch, resolve_arch

    td = load(PAPER)["lmac_td"]
    arch = resolve_arch(td["preset"], td["scale"])
    assert arch.n_filters == 256 and arch.kernel_size == 16 and arch.chunk_size == 250 and arch.num_blocks == 2
    if td["preset"] == "nov2024":
        assert arch == TDArch()  # the dataclass defaults are the nov2024 paper values


# --------------------------------------------------------------------------------------------
# dry run: the whole DAG, no data


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("paper_dag")
    proc = snakemake(workdir, "-n", configfile=PAPER, env=LOOPBACK)
    assert proc.returncode == 0, show(proc)
    return workdir, proc.output


def expected_jobs(config: dict) -> dict[str, int]:
    """Jobs per rule kind that `config` needs, derived from its keys."""
    from lmac.classifier.pretrained import downloads
    from lmac.explainers.registry import expand_methods

    ev, seeds = config["evaluation"], len(config["seeds"])
    alphas = config["lmac_td"]["alphas"] if "lmac_td" in ev["methods"] else []
    methods = expand_methods(ev["methods"], alphas)
    return {
        "download_esc50": int(config["dataset"]["name"] == "esc50"),
        "download_wham": int(config["noise"]["source"] == "wham"),
        "download_ljspeech": int("speech" in ev["conditions"] and ev["speech"] == "ljspeech"),
        "download_classifier": len(downloads(config["classifier"])),
        "prepare_dataset": 1,
        "train_classifier": 1,
        "train_lmac": seeds * bool({"lmac", "lmac_ft"} & set(methods)),  # L-MAC FT starts from L-MAC
        "train_lmac_ft": seeds * ("lmac_ft" in methods),
        "train_lmac_td": seeds * len(alphas),
        "train_nmf": int("l2i" in methods),  # one dictionary for every seed
        "train_l2i": seeds * ("l2i" in methods),
        # evaluation.group: one job per method, or one per condition that runs every method
        "evaluate": seeds * len(ev["conditions"]) * (len(methods) if ev.get("group", "condition") == "method" else 1),
        "metrics_table": 1,
        "paper_tables": 1,
        "all": 1,
    }


def test_paper_dry_run_has_every_job_kind_with_the_expected_count(paper_dry_run):
    workdir, output = paper_dry_run
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M)}
    expected = expected_jobs(load(PAPER))
    assert expected["evaluate"] == 15 * 5 * 3 and expected["train_lmac_td"] == 9  # the sum above, spelt out once
    for rule, n in expected.items():
        assert counts.get(rule, 0) == n, f"{rule}: {counts.get(rule, 0)} jobs, expected {n}\n{output}"
    assert "synthesize_dataset" not in counts
    # a dry run writes nothing but Snakemake's own metadata
    assert sorted(p.name for p in workdir.iterdir()) == [".snakemake"]


def test_paper_dry_run_targets_every_method_condition_and_seed(paper_dry_run):
    from lmac.explainers.registry import expand_methods

    _, output = paper_dry_run
    paper = load(PAPER)
    ev = paper["evaluation"]
    for method in expand_methods(ev["methods"], paper["lmac_td"]["alphas"]):
        for condition in ev["conditions"]:
            for seed in paper["seeds"]:
                assert f"results/paper/evaluation/{condition}/{method}/seed{seed}.csv" in output, (
                    method,
                    condition,
                    seed,
                )
    train = re.search(r"rule train_classifier:\n\s+input: ([^\n]+)", output).group(1)
    assert "resources/checkpoints/classifier/embedding_model.ckpt" in train
    assert "results/paper/data/esc50/audio.npy" in train
    assert "resources/wham" in train  # the paper's classifier mixes WHAM! (classifier.noise with noise.source wham)


# --------------------------------------------------------------------------------------------
# classifier checkpoints by URL, from a loopback server


def url_config(tmp_path: Path, base_url: str, **classifier) -> Path:
    config = load(TINY)
    config["classifier"].update(
        init_checkpoint=f"{base_url}/hub/embedding_model.ckpt",
        init_head=f"{base_url}/hub/classifier.ckpt",
        **classifier,
    )
    path = tmp_path / "url.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_classifier_starts_from_checkpoints_fetched_by_url(tmp_path):
    tiny = load(TINY)
    served = speechbrain_checkpoints(
        tmp_path / "served" / "hub", tiny["dataset"]["synthetic"]["n_classes"], tiny["classifier"]["width"]
    )
    with serve_files(tmp_path / "served") as (url, stats):
        # a learning rate of 1e-12 leaves the weights where the checkpoints put them
        configfile = url_config(tmp_path, url, init_checkpoint_sha256=sha256_of(served["emb"]), epochs=1, lr=1e-12)
        proc = snakemake(
            tmp_path, "--cores", 2, "results/tiny/classifier/model.pt", configfile=configfile, env=LOOPBACK
        )
        assert proc.returncode == 0, show(proc)
        assert sorted(path for path, _, _ in stats.requests) == ["/hub/classifier.ckpt", "/hub/embedding_model.ckpt"]
        again = snakemake(
            tmp_path, "--cores", 2, "results/tiny/classifier/model.pt", "-n", configfile=configfile, env=LOOPBACK
        )
        assert "Nothing to be done" in again.output, show(again)
        assert stats.count == 2  # nothing fetched twice

    local = tmp_path / "resources" / "checkpoints" / "classifier"
    assert (local / "embedding_model.ckpt").read_bytes() == served["emb"].read_bytes()
    assert (local / "classifier.ckpt").read_bytes() == served["head"].read_bytes()
    log = (tmp_path / "logs" / "tiny" / "classifier" / "train_classifier.log").read_text()
    assert (
        "initialised from resources/checkpoints/classifier/embedding_model.ckpt + head "
        "resources/checkpoints/classifier/classifier.ckpt" in log
    ), log

    trained = torch.load(tmp_path / "results" / "tiny" / "classifier" / "model.pt", weights_only=True)["state_dict"]
    emb, head = torch.load(served["emb"], weights_only=True), torch.load(served["head"], weights_only=True)
    for key in ("conv_block1.conv1.weight", "conv_block6.conv2.weight"):
        assert torch.allclose(trained[f"net.embedding_model.{key}"], emb[key], atol=1e-6), key
    assert torch.allclose(trained["net.classifier.weight"], head["w.weight"], atol=1e-6)


def test_wrong_checkpoint_digest_fails_in_one_line(tmp_path):
    tiny = load(TINY)
    speechbrain_checkpoints(tmp_path / "served" / "hub", 3, tiny["classifier"]["width"])
    with serve_files(tmp_path / "served") as (url, _):
        configfile = url_config(tmp_path, url, init_checkpoint_sha256="0" * 64)
        proc = snakemake(
            tmp_path,
            "--cores",
            1,
            "--retries",
            0,
            "resources/checkpoints/classifier/embedding_model.ckpt",
            configfile=configfile,
            env=LOOPBACK,
        )
    assert proc.returncode != 0, show(proc)
    assert "Error in rule download_classifier" in proc.output and "Traceback" not in proc.output, show(proc)
    last = (tmp_path / "logs/tiny/classifier/download_embedding_model.ckpt.log").read_text().strip().splitlines()[-1]
    assert "ERROR" in last and "checksum mismatch" in last and "embedding_model.ckpt" in last, last
    assert not (tmp_path / "resources/checkpoints/classifier/embedding_model.ckpt").exists()


def test_two_checkpoint_urls_with_one_file_name_stop_before_any_job(tmp_path):
    config = load(TINY)
    config["classifier"].update(init_checkpoint="https://a.org/model.ckpt", init_head="https://b.org/model.ckpt")
    configfile = tmp_path / "dup.yaml"
    configfile.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", configfile=configfile, env=LOOPBACK)
    assert proc.returncode != 0 and "both URLs name the file model.ckpt" in proc.output, show(proc)
    assert "Traceback" not in proc.output, show(proc)


# --------------------------------------------------------------------------------------------
# the paper_tables rule on the tiny configuration (its inputs made by hand)


def ours_table() -> pd.DataFrame:
    rows = [("mixture", "lmac", "AI", 40.0), ("mixture", "lmac", "AD_ref", 4.0), ("clean", "lmac", "FidIn", 0.9)]
    return pd.DataFrame(
        [
            {
                "condition": c,
                "method": m,
                "split": "test",
                "metric": k,
                "mean": v,
                "ci_low": v - 1,
                "ci_high": v + 1,
                "n": 3,
                "n_seeds": 1,
                "classifier_accuracy": 1.0,
                "explain_ms_per_clip": 1.0,
            }
            for c, m, k, v in rows
        ]
    )


def test_paper_tables_rule_renders_on_the_tiny_config(tmp_path):
    (tmp_path / "results" / "tiny" / "tables").mkdir(parents=True)
    (tmp_path / "results" / "tiny" / "classifier").mkdir(parents=True)
    ours_table().to_csv(tmp_path / "results" / "tiny" / "tables" / "metrics.csv", index=False)
    (tmp_path / "results" / "tiny" / "classifier" / "metrics.json").write_text(json.dumps({"test_accuracy": 0.75}))
    outputs = [f"results/tiny/tables/paper_vs_ours.{ext}" for ext in ("md", "tex", "csv")]
    # targets first: --allowed-rules takes every following word
    proc = snakemake(tmp_path, *outputs, "--cores", 1, "--allowed-rules", "paper_tables", configfile=TINY, env=LOOPBACK)
    assert proc.returncode == 0, show(proc)
    md = (tmp_path / outputs[0]).read_text()
    assert "Not the paper protocol" in md  # the tiny/embedded data are not ESC-50
    assert "| L-MAC (`lmac`) | AI ↑ | 61.62 | 40.00 [39.00, 41.00] | -21.62 | no |" in md
    assert "| CNN14 (SpeechBrain ESC-50 recipe) (`classifier`) | test accuracy | 82.00 | 75.00 | -7.00 |" in md
    assert r"\begin{tabular}" in (tmp_path / outputs[1]).read_text()
    assert (tmp_path / "logs" / "tiny" / "report" / "paper_tables.log").is_file()


def test_bad_published_file_stops_the_rule_in_one_line(tmp_path):
    (tmp_path / "results" / "tiny" / "tables").mkdir(parents=True)
    (tmp_path / "results" / "tiny" / "classifier").mkdir(parents=True)
    ours_table().to_csv(tmp_path / "results" / "tiny" / "tables" / "metrics.csv", index=False)
    (tmp_path / "results" / "tiny" / "classifier" / "metrics.json").write_text(json.dumps({"test_accuracy": 0.75}))
    published = load(REPO / "config" / "published.yaml")
    published["tables"][1]["rows"][0]["AI"] = "sixty"
    (tmp_path / "published.yaml").write_text(yaml.safe_dump(published, allow_unicode=True))
    config = load(TINY)
    config["report"]["published"] = str(tmp_path / "published.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(
        tmp_path,
        "results/tiny/tables/paper_vs_ours.md",
        "--cores",
        1,
        "--allowed-rules",
        "paper_tables",
        configfile=tmp_path / "config.yaml",
        env=LOOPBACK,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.output, show(proc)
    last = (tmp_path / "logs" / "tiny" / "report" / "paper_tables.log").read_text().strip().splitlines()[-1]
    assert "key 'tables.1.rows.0.AI'" in last and "published.yaml" in last, last
