"""The ``compute`` section (lmac.compute): every option against the fp32 eager reference, and resumability.

Tolerances. Options that only move data (prefetch, pin_memory) and the CUDA-only switches, which are
no-ops on the CPU (tf32, cudnn_benchmark, pin_memory), must give exactly the fp32 result. bf16 rounds
each operation's result to an 8-bit mantissa (2^-9 ~ 2e-3 relative): a loss through the classifier's
tens of layers carries a few such errors, so losses are compared at 2e-2 relative (measured: at most
4e-3); the weights, whatever their gradients' rounding, cannot part further than both runs' largest Adam
steps: Kingma & Ba bound a step by lr (1 - beta1) / sqrt(1 - beta2) = 3.16 lr at torch's betas, so
2 x 3.16 lr per optimiser step (measured: 0.015 = 2.5 lr per step, for one of the classifier's weights). torch.compile reorders float
sums: 1e-5 relative (measured: 1e-7). The compile test compiles one tiny L-MAC training (the classifier's
network and the decoder, forward and backward): about a minute on a cold inductor cache, seconds warm.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from test_train_lmac import CFG as LMAC  # its L-MAC training: noise, a plateau schedule
from test_train_lmac import NOISE

import lmac.explainers.train_lmac as train_module
from lmac.checkpoints import load_checkpoint
from lmac.classifier.model import load_classifier
from lmac.classifier.train import ClassifierJob
from lmac.compute import REFERENCE, Compute
from lmac.errors import LmacError
from lmac.evaluation.evaluate import EvalJob, evaluate
from lmac.explain_windows import explain_window
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.train_lmac import LmacJob
from lmac.frontend import FrontEndConfig
from lmac.jobs import Outputs, rule_config
from lmac.yaml_inputs import load_schema

STEPS = 2 * 3  # 2 epochs of 9 training clips in batches of 3
BF16_RTOL = 2e-2
ADAM_STEP_BOUND = (1 - 0.9) / (1 - 0.999) ** 0.5  # a step's largest size, in units of lr
BF16_WEIGHTS_ATOL = 2 * ADAM_STEP_BOUND * LMAC["lr"] * STEPS
COMPILE_RTOL = 1e-5


def train_lmac(tiny_prepared, out, compute: dict | None = None):
    LmacJob.from_config(
        {"lmac": LMAC, "noise": NOISE, "seed": 1234, "device": "cpu", "compute": compute},
        prepared_dir=tiny_prepared["prepared"],
        outputs=Outputs.in_folder(out),
        classifier_path=tiny_prepared["classifier"],
    ).run()
    return result(out)


def result(out) -> tuple[pd.DataFrame, dict]:
    return pd.read_csv(out / "history.csv").drop(columns="seconds"), load_checkpoint(out / "model.pt")["state_dict"]


def interrupted_then_resumed(tiny_prepared, out, monkeypatch, first: dict, then: dict):
    """Train with ``first`` until epoch 2's second step dies, then resume with ``then``."""
    calls, real_loss = {"n": 0}, train_module.lmac_loss

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3 + 1 + 1:  # epoch 1: 3 train + 1 valid batches
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_module, "lmac_loss", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_lmac(tiny_prepared, out, first)
    assert (out / "work" / "last.pt").exists() and not (out / "model.pt").exists()
    monkeypatch.setattr(train_module, "lmac_loss", real_loss)
    return train_lmac(tiny_prepared, out, then)


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])


def assert_close(a, b, rtol: float, weights_atol: float) -> None:
    pd.testing.assert_frame_equal(a[0], b[0], rtol=rtol, atol=1e-6)
    for k in a[1]:
        torch.testing.assert_close(a[1][k], b[1][k], rtol=0, atol=weights_atol)


@pytest.fixture(scope="module")
def fp32(tiny_prepared, tmp_path_factory):
    return train_lmac(tiny_prepared, tmp_path_factory.mktemp("fp32"))


# the section


def test_the_dataclass_defaults_are_the_schemas():
    section = load_schema("config")["properties"]["compute"]
    assert section["default"] == {}
    assert {k: v["default"] for k, v in section["properties"].items()} == vars(REFERENCE)
    assert Compute.from_config(None) == Compute.from_config({}) == REFERENCE


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"precision": "fp16"}, "config key 'compute.precision': 'fp16' is not one of fp32, bf16, tf32"),
        ({"prefetch": -1}, "config key 'compute.prefetch': -1 must be a whole number of batches >= 0"),
        ({"compile": "yes"}, "config key 'compute.compile': 'yes' must be true or false"),
        ({"amp": True}, "config key 'compute.amp': unknown key"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(section, message):
    with pytest.raises(LmacError) as err:
        Compute.from_config(section)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_rule_carries_the_section_to_its_job():
    params = {"cfg": LMAC, "noise": NOISE, "seed": 1, "device": "cpu", "compute": {"precision": "bf16", "prefetch": 2}}
    config = rule_config(SimpleNamespace(params=params), "lmac")
    job = LmacJob.from_config(config, prepared_dir="p", outputs=Outputs.in_folder("o"), classifier_path="c")
    assert job.compute == Compute(precision="bf16", prefetch=2)


def test_cuda_switches_are_set_for_a_job_and_restored():
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.benchmark)
    with Compute(precision="tf32", cudnn_benchmark=True).applied(torch.device("cuda")):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32" and torch.backends.cudnn.benchmark
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.benchmark) == before
    with Compute(precision="tf32", cudnn_benchmark=True, pin_memory=True).applied(torch.device("cpu")):
        assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.benchmark) == before  # no-ops


def test_compile_sets_eager_random_numbers_for_a_job_and_restores_them():
    import torch._inductor.config as inductor

    before = inductor.fallback_random
    with Compute(compile=True).applied(torch.device("cpu")):
        assert inductor.fallback_random is True
    assert inductor.fallback_random == before


def test_a_job_that_does_not_compile_does_not_import_inductor():
    # importing inductor costs about a second of every job's start-up
    code = (
        "import sys, torch\n"
        "from lmac.compute import Compute\n"
        "with Compute(prefetch=2, pin_memory=True).applied(torch.device('cpu')):\n"
        "    pass\n"
        "print('torch._inductor.config' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_background_batches_are_the_foreground_ones_and_stop_with_the_consumer():
    items = [(torch.full((2,), float(i)), i) for i in range(7)]
    ahead = list(Compute(prefetch=2).batches(iter(items), torch.device("cpu")))
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(ahead, items, strict=True))

    def broken():
        yield 1
        raise ValueError("unreadable clip")

    with pytest.raises(ValueError, match="unreadable clip"):
        list(Compute(prefetch=3).batches(broken(), torch.device("cpu")))
    stream = Compute(prefetch=1).batches(iter(range(1000)), torch.device("cpu"))
    assert next(stream) == 0
    stream.close()  # an interrupted step: the thread stops instead of reading on
    assert not any(t.name == "lmac-prefetch" for t in threading.enumerate())


# training: L-MAC through the shared explainer trainer, the classifier through its own


@pytest.mark.parametrize(
    "compute",
    [
        {"prefetch": 2},
        {"pin_memory": True},
        {"precision": "tf32"},
        {"cudnn_benchmark": True},
        {"prefetch": 1, "pin_memory": True, "precision": "tf32", "cudnn_benchmark": True},
    ],
    ids=["prefetch", "pin_memory", "tf32", "cudnn_benchmark", "all"],
)
def test_data_and_cuda_options_train_exactly_as_fp32(tiny_prepared, tmp_path, fp32, compute):
    assert_same(train_lmac(tiny_prepared, tmp_path, compute), fp32)


def test_bf16_trains_as_fp32_within_tolerance(tiny_prepared, tmp_path, fp32):
    bf16 = train_lmac(tiny_prepared, tmp_path, {"precision": "bf16"})
    assert not bf16[0].equals(fp32[0])  # autocast did run
    assert_close(bf16, fp32, BF16_RTOL, BF16_WEIGHTS_ATOL)
    assert all(v.dtype == torch.float32 for v in bf16[1].values())  # checkpoints stay fp32


def test_an_interrupted_bf16_prefetched_run_resumes_to_the_same_model(tiny_prepared, tmp_path, monkeypatch):
    options = {"precision": "bf16", "prefetch": 2, "pin_memory": True}
    whole = train_lmac(tiny_prepared, tmp_path / "whole", options)
    assert_same(interrupted_then_resumed(tiny_prepared, tmp_path / "resumed", monkeypatch, options, options), whole)


def test_a_run_resumes_under_another_precision(tiny_prepared, tmp_path, monkeypatch, fp32):
    bf16_first = train_lmac(tiny_prepared, tmp_path / "bf16", {"precision": "bf16"})
    mixed = interrupted_then_resumed(tiny_prepared, tmp_path / "mixed", monkeypatch, {"precision": "bf16"}, {})
    pd.testing.assert_frame_equal(mixed[0].iloc[:1], bf16_first[0].iloc[:1])  # epoch 1 kept, epoch 2 in fp32
    assert_close(mixed, fp32, BF16_RTOL, BF16_WEIGHTS_ATOL)


def test_compile_trains_as_eager_and_resumes(tiny_prepared, tmp_path, monkeypatch, fp32):
    compiled = train_lmac(tiny_prepared, tmp_path / "whole", {"compile": True})
    assert_close(compiled, fp32, COMPILE_RTOL, 1e-5)
    resumed = interrupted_then_resumed(tiny_prepared, tmp_path / "resumed", monkeypatch, *[{"compile": True}] * 2)
    assert_same(resumed, compiled)


def train_classifier(tiny_prepared, out, compute: dict | None = None):
    cfg = {"width": 0.0625, "epochs": 2, "batch_size": 3, "lr": 1e-3, "weight_decay": 0.0}
    config = {
        "classifier": {**cfg, "noise": {"enabled": True}},
        "frontend": FrontEndConfig(sample_rate=16000).to_dict(),
        "noise": NOISE,
        "seed": 0,
        "compute": compute,
    }
    ClassifierJob.from_config(config, prepared_dir=tiny_prepared["prepared"], outputs=Outputs.in_folder(out)).run()
    return result(out)


def test_the_classifier_trains_through_the_same_options(tiny_prepared, tmp_path):
    reference = train_classifier(tiny_prepared, tmp_path / "fp32")
    assert_same(train_classifier(tiny_prepared, tmp_path / "ahead", {"prefetch": 2, "pin_memory": True}), reference)
    bf16 = train_classifier(tiny_prepared, tmp_path / "bf16", {"precision": "bf16"})
    assert_close(bf16, reference, BF16_RTOL, BF16_WEIGHTS_ATOL)


# explanations: evaluation and lmac explain


def evaluated(tiny_prepared, tmp_path, compute: Compute) -> pd.DataFrame:
    job = EvalJob(
        method="lmac", condition="mixture", explainer_path=tiny_prepared["lmac"], batch_size=2, compute=compute
    )
    out = tmp_path / compute.describe().replace(" ", "_")
    frame = evaluate(tiny_prepared["prepared"], tiny_prepared["classifier"], job, f"{out}.csv", f"{out}.npz", "cpu")
    return frame.drop(columns="explain_s")


def test_evaluation_in_the_background_is_the_foreground_one(tiny_prepared, tmp_path):
    reference = evaluated(tiny_prepared, tmp_path, REFERENCE)
    pd.testing.assert_frame_equal(evaluated(tiny_prepared, tmp_path, Compute(prefetch=2, pin_memory=True)), reference)
    bf16 = evaluated(tiny_prepared, tmp_path, Compute(precision="bf16"))
    # the decision and the scoring passes stay fp32: only the explanation (the mask) moves, by rounding
    pd.testing.assert_frame_equal(bf16[["id", "predicted", "correct"]], reference[["id", "predicted", "correct"]])
    np.testing.assert_allclose(bf16["MM"], reference["MM"], rtol=BF16_RTOL)


def test_lmac_explain_in_bf16_is_fp32_within_tolerance(tiny_prepared):
    classifier = load_classifier(tiny_prepared["classifier"])
    explainer = LmacExplainer.load(tiny_prepared["lmac"], classifier)
    wav = torch.from_numpy(np.load(f"{tiny_prepared['prepared']}/audio.npy")[0])
    reference = explain_window(wav, classifier, explainer, 3)
    bf16 = explain_window(wav, classifier, explainer, 3, Compute(precision="bf16"))
    assert bf16["predicted_class"] == reference["predicted_class"]
    np.testing.assert_allclose(bf16["waveforms"][0], reference["waveforms"][0], rtol=0, atol=BF16_RTOL)
