"""benchmarks/gpu_budget.py: FLOPs counted on fake tensors are the real ones; steps follow from the config."""

import copy
import importlib
import json
import math
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
flops = importlib.import_module("flops")
budget_units = importlib.import_module("budget_units")
budget_plan = importlib.import_module("budget_plan")
gpu_budget = importlib.import_module("gpu_budget")

PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


@pytest.fixture(scope="module")
def tiny():
    """The paper configuration at a size whose real steps take milliseconds."""
    config = copy.deepcopy(PAPER)
    config["classifier"].update(width=1 / 16, batch_size=2)
    config["dataset"]["clip_seconds"] = 0.5
    for section in ("lmac", "lmac_ft", "lmac_td", "l2i", "evaluation", "sanity"):
        config[section]["batch_size"] = 2
    config["lmac_td"]["scale"] = dict(
        n_filters=8, kernel_size=16, chunk_size=20, num_blocks=1, intra_layers=1, intra_heads=1,
        inter_layers=1, inter_heads=1, d_ffn=16,
    )  # fmt: skip
    config["nmf"]["components"] = 4
    config["baselines"]["ig"]["n_steps"] = 3
    config["baselines"]["smoothgrad"]["n_samples"] = 3
    return config


def counts(config, name):
    torch.manual_seed(0)
    fake = flops.count_flops(lambda: budget_units.unit(config, name))
    torch.manual_seed(0)
    real = flops.count_flops(lambda: budget_units.unit(config, name), fake=False)
    return fake, real


@pytest.mark.parametrize(
    "name",
    ["train/classifier", "train/lmac", "train/lmac_ft", "train/lmac_td_a0.75", "train/l2i", "valid/lmac_td_a0",
     "explain/ig", "explain/shap", "explain/gradcam", "explain/lmac_td_a1", "predict"],
)  # fmt: skip
def test_fake_tensors_count_the_real_flops(tiny, name):
    fake, real = counts(tiny, name)
    assert real > 0
    assert fake == real


def test_evaluation_scoring_is_counted_as_an_upper_bound(tiny):
    """Rows the scoring takes from an identical row on real data are classified on fake tensors."""
    fake, real = counts(tiny, "evaluate/lmac_td_a0.75")
    explain, _ = counts(tiny, "explain/lmac_td_a0.75")
    assert explain < real <= fake
    one_forward, _ = counts(tiny, "predict")
    assert fake - real <= 3 * one_forward  # the rows that repeat another on random data


def test_the_counter_is_torchs_total():
    """FlopCounter is FlopCounterMode without its per-module table: the same total."""
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 5), torch.nn.Flatten(), torch.nn.Linear(4 * 60, 3))
    x = torch.randn(2, 1, 64)
    with FlopCounterMode(display=False) as reference:
        model(x).sum().backward()
    counter = flops.FlopCounter()
    with counter:
        model(x).sum().backward()
    assert counter.get_total_flops() == reference.get_total_flops() > 0


def rules(config):
    return {r.rule: r for r in budget_plan.plan(copy.deepcopy(config))}


def test_training_steps_follow_epochs_batches_and_esc50_folds():
    plan = rules(PAPER)
    clf = plan["train_classifier"]
    # 200 epochs of ⌈1200 / 32⌉ steps; validation every epoch plus the final valid and test scoring
    assert clf.units == {"train/classifier": 200 * 38, "valid/classifier": 200 * 13 + 13 + 13}
    assert plan["train_lmac"].jobs == 3
    assert plan["train_lmac"].steps == 3 * 200 * math.ceil(1200 / 16)
    td = plan["train_lmac_td α=0.75"]
    assert (td.jobs, td.steps, td.units["valid/lmac_td_a0.75"]) == (3, 3 * 200 * 600, 3 * 200 * 200)
    assert plan["train_nmf"].units == {"nmf": 200}

    config = copy.deepcopy(PAPER)
    config["lmac"]["epochs"], config["seeds"] = 10, [7]
    config["claims"]["seeds"] = [7]
    assert rules(config)["train_lmac"].steps == 10 * 75


def test_evaluation_jobs_are_methods_by_conditions_by_seeds():
    plan = rules(PAPER)
    evaluations = [r for r in plan.values() if r.rule.startswith("evaluate ")]
    # 13 configured methods, LMAC-TD once per α: 15
    assert len(evaluations) == 15
    ig = plan["evaluate ig"]
    assert ig.jobs == 5 * 3
    # clean and in_domain one version, the three others two; ⌈400 / 16⌉ batches each
    assert ig.units == {"evaluate/ig": 3 * (1 + 1 + 2 + 2 + 2) * 25, "evaluate/shared": 3 * 8 * 25}


def test_sanity_passes_follow_the_method_and_the_retraining():
    plan = rules(PAPER)
    # L-MAC: reference, 7 randomised blocks, data randomisation, retrained at steps 0 and 7 and on the
    # permuted labels; not class-conditional: no random logit. ⌈100 / 16⌉ = 7 batches per pass
    assert plan["sanity_checks lmac"].units == {"explain/lmac": 3 * 12 * 7, "predict": 3 * 2 * 7}
    assert plan["sanity_checks ig"].units["explain/ig"] == 3 * 10 * 7
    assert plan["sanity_retrain lmac"].jobs == 3 * 3
    assert plan["sanity_permuted_classifier"].units["train/classifier"] == 50 * 38


def test_grouped_evaluation_counts_the_shared_passes_once():
    config = copy.deepcopy(PAPER)
    config["evaluation"]["group"] = "condition"
    plan = rules(config)
    assert "evaluate/shared" not in plan["evaluate ig"].units
    assert plan["evaluate (passes every method shares)"].units == {"evaluate/shared": 3 * 8 * 25}


def test_subsets_narrow_seeds_and_methods():
    sets = gpu_budget.subsets(PAPER)
    cheapest, targets = sets[gpu_budget.CHEAPEST]
    assert targets == ("all",)
    plan = budget_plan.plan(copy.deepcopy(cheapest))
    assert [r.rule for r in plan if r.target == "all"] == ["train_classifier", "train_lmac", "evaluate lmac"]
    assert plan[2].jobs == 5


def test_gpu_hours_are_flops_over_the_stated_rate():
    assert gpu_budget.gpu_hours(19.5 * 0.2 * 3600, "A100", "fp32") == pytest.approx(1.0)
    assert gpu_budget.gpu_hours(1000.0, "H100", "bf16", 0.5) == pytest.approx(1000 / (989.4 * 0.5) / 3600)


def test_the_script_counts_and_measures_in_a_subprocess(tiny, tmp_path):
    config, out = tmp_path / "tiny.yaml", tmp_path / "budget.json"
    config.write_text(yaml.safe_dump(tiny))
    assert gpu_budget.main(["--config", str(config), "--out", str(out), "--measure", "train/lmac"]) == 0
    record = json.loads(out.read_text())
    assert record["unit_flops"]["train/lmac"] == counts(tiny, "train/lmac")[1]
    (device, measured), *_ = record["measured"]["train/lmac"].items()
    assert device.startswith("cpu") and measured["samples_per_call"] == 2
    assert measured["peak_rss_mb"] > 0 and measured["samples_per_s"] > 0
    total = sum(r["tflop"] for r in record["rules"])
    assert record["subsets"]["whole configuration (all + sanity)"]["tflop"] == pytest.approx(total)
