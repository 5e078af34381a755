"""Round-trip faithfulness, masking operators and rank stability: known answers, one code path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixture import TINY_TD_2HEADS, tiny_classifier
from scipy.stats import kendalltau

from lmac.data.prepare import prepare_dataset
from lmac.data.synthetic import generate_synthetic_dataset
from lmac.errors import LmacError
from lmac.evaluation.evaluate import EvalJob, evaluate
from lmac.evaluation.extras import EXTRAS, check_extras, extra_columns, extra_scores
from lmac.evaluation.listenability import LISTENABILITY_METRICS
from lmac.evaluation.metrics import FAITHFULNESS_METRICS, faithfulness
from lmac.evaluation.operators import fill, masked_pair
from lmac.evaluation.roundtrip import heard_logspecs
from lmac.explainers.attribution_maps import AllOnesExplainer, RandomExplainer
from lmac.explainers.lmac_td import build_lmac_td
from lmac.frontend import FrontEndConfig
from lmac.reporting.beyond_tables import rank_stability
from lmac.reporting.rank_stability import bootstrap_tau, kendall_tau_b, rank_agreement

SR = 16000


def clips(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, SR, generator=g) * 0.1


# -- round trip ------------------------------------------------------------------------------------


def test_all_ones_round_trip_equals_the_spectrogram_metrics(clf):
    wav = clips()
    with torch.no_grad():
        exp = AllOnesExplainer(clf).explain(wav)
        heard_input, heard_in, heard_out = heard_logspecs(clf.frontend, wav, exp.logspec, exp.masked_out, exp.waveform)
        # the resynthesis is exact up to the STFT round trip: the classifier sees the same input
        assert torch.allclose(clf.classify_logspec(heard_input), clf.classify_logspec(exp.logspec), atol=1e-4)
        assert torch.equal(heard_in, heard_input)  # the explanation is the input through the same resynthesis
        spec = faithfulness(
            clf.classify_logspec(exp.logspec),
            clf.classify_logspec(exp.masked_in),
            clf.classify_logspec(exp.masked_out),
            exp.target,
        )
        scores = extra_scores(
            ["roundtrip"],
            clf,
            exp,
            wav,
            wav,
            torch.zeros_like(wav),
            clf.classify_logspec(exp.logspec),
            ["a", "b", "c"],
            0,
            0,
        )
    for m in FAITHFULNESS_METRICS:
        assert torch.allclose(scores[m + "_rt"].double(), spec[m].double(), atol=1e-4), m
    assert (scores["AI_rt"] == 0).all() and (scores["FidIn_rt"] == 1).all()


def test_lmac_td_is_heard_as_it_is_scored(clf):
    torch.manual_seed(1)
    td = build_lmac_td(
        clf,
        TINY_TD_2HEADS,
        "nov2024",
        0.75,
    ).eval()
    wav = clips(2, 1)
    exp = td.explain(wav)
    with torch.no_grad():
        _, heard_in, _ = heard_logspecs(clf.frontend, wav, exp.logspec, exp.masked_out, exp.waveform)
    assert torch.equal(heard_in, exp.masked_in)  # LMAC-TD's masked-in already is its waveform re-analysed


# -- masking operators -----------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["mean", "noise"])
def test_fills_leave_an_all_ones_masked_in_equal_to_the_input(clf, operator):
    wav = clips()
    exp = AllOnesExplainer(clf).explain(wav)
    value = fill(operator, exp.logspec, ["a", "b", "c"], seed=3, version=1)
    masked_in, masked_out = masked_pair(exp.mask, exp.masked_in, exp.masked_out, value)
    assert torch.equal(masked_in, exp.logspec)
    assert torch.allclose(masked_out, value)  # everything removed from masked-out is replaced by the fill


def test_zero_fill_is_the_papers_masking(clf):
    exp = RandomExplainer(clf).explain(clips())
    masked_in, masked_out = masked_pair(exp.mask, exp.masked_in, exp.masked_out, fill("zero", exp.logspec))
    assert torch.equal(masked_in, exp.masked_in) and torch.equal(masked_out, exp.masked_out)


def test_mean_fill_is_the_clips_mean_spectrum_and_noise_matches_its_statistics(clf):
    logspec = clf.frontend.log_spectrogram(clips())
    mean = fill("mean", logspec)
    assert torch.allclose(mean, logspec.mean(1, keepdim=True).expand_as(logspec))
    noise = fill("noise", logspec, ["a", "b", "c"], seed=0, version=0)
    assert noise.shape == logspec.shape and (noise >= 0).all()
    # before the clamp at 0 the noise has the clip's per-bin mean; the clamp only raises it
    assert (noise.mean(1) - logspec.mean(1)).mean().abs() < 0.1 * logspec.mean()


def test_noise_fill_depends_on_the_item_not_on_the_batch(clf):
    logspec = clf.frontend.log_spectrogram(clips())
    whole = fill("noise", logspec, ["a", "b", "c"], seed=5, version=0)
    alone = fill("noise", logspec[1:2], ["b"], seed=5, version=0)
    assert torch.equal(whole[1:2], alone)
    assert not torch.equal(fill("noise", logspec, ["a", "b", "c"], seed=5, version=1), whole)
    with pytest.raises(ValueError):
        fill("noise", logspec)
    with pytest.raises(ValueError):
        fill("blur", logspec)


def test_extra_scores_fill_exactly_their_columns(clf):
    wav = clips()
    target, interferer = 0.8 * wav, 0.2 * clips(3, 9)
    exp = RandomExplainer(clf).explain(target + interferer)
    with torch.no_grad():
        scores = extra_scores(
            EXTRAS,
            clf,
            exp,
            target + interferer,
            target,
            interferer,
            clf.classify_logspec(exp.logspec),
            ["a", "b", "c"],
            0,
            0,
        )
    assert list(scores) == extra_columns(EXTRAS)
    assert all(v.shape == (3,) and torch.isfinite(v).all() for v in scores.values())
    assert extra_columns(["listenability"]) == list(LISTENABILITY_METRICS)
    assert check_extras(["robustness", "listenability"]) == ("listenability", "robustness")
    with pytest.raises(LmacError, match="evaluation.extras: unknown value 'mos'"):
        check_extras(["mos"])


# -- through evaluate() ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("extras")
    synth = {
        "n_classes": 3,
        "clips_per_class": 5,
        "n_folds": 5,
        "clip_seconds": 1.0,
        "sample_rate": SR,
        "event_seconds": [0.2, 0.5],
        "event_snr_db": [0, 10],
        "n_distractors": [0, 1],
        "distractor_snr_db": [-5, 5],
    }
    generate_synthetic_dataset(root / "raw", synth, FrontEndConfig(sample_rate=SR), seed=3)
    prepare_dataset(
        root / "raw",
        root / "prepared",
        sample_rate=SR,
        clip_seconds=1.0,
        splits={"train": [1, 2, 3], "valid": [4], "test": [5]},
    )
    tiny_classifier().save(root / "classifier.pt")
    return root


def run(root, condition: str, **kw) -> pd.DataFrame:
    job = EvalJob(method="all_ones", condition=condition, batch_size=2, seed=5, keep_examples=1, **kw)
    return evaluate(
        str(root / "prepared"),
        str(root / "classifier.pt"),
        job,
        str(root / condition / "s.csv"),
        str(root / condition / "e.npz"),
        device="cpu",
    )


def test_evaluate_writes_the_extras_for_every_item(prepared):
    frame = run(prepared, "mixture")
    for column in extra_columns(EXTRAS):
        assert column in frame.columns, column
    # the all-ones explanation is the input: all of the target and of the interferer kept, nothing gained
    assert np.allclose(frame["interferer_kept"], 1, atol=1e-3) and np.allclose(frame["target_kept"], 1, atol=1e-3)
    for suffix in ("_rt", "_mean", "_noise"):
        assert (frame["AI" + suffix] == 0).all() and (frame["FidIn" + suffix] == 1).all()
    clean = run(prepared, "clean")
    assert clean[list(LISTENABILITY_METRICS)].isna().all().all()  # no separate clean target
    assert clean[[m + "_rt" for m in FAITHFULNESS_METRICS]].notna().all().all()
    bare = run(prepared, "clean", extras=())
    assert not set(extra_columns(EXTRAS)) & set(bare.columns)
    config = {
        "evaluation": {
            "split": "test",
            "batch_size": 2,
            "versions": 2,
            "peak": "signed",
            "mixture_pool": "valid",
            "iou_threshold": 0.5,
            "keep_masks": [],
            "speech": "synthetic",
            "extras": ["roundtrip"],
        },
        "noise": {"source": "generated"},
        "dataset": {"sample_rate": SR},
        "seed": 1,
        "report": {"n_examples": 1},
    }
    assert EvalJob.from_config(config, "all_ones", "clean").extras == ("roundtrip",)


# -- rank stability --------------------------------------------------------------------------------


def test_rank_agreement_is_one_for_identical_and_minus_one_for_reversed_rankings():
    a = np.array([0.1, 0.5, 0.3, 0.9])
    assert rank_agreement(a, a * 2 + 1) == (1.0, 1.0)
    assert rank_agreement(a, -a) == (-1.0, -1.0)
    assert all(np.isnan(rank_agreement(a, np.ones(4))))  # a source that ranks nothing


def test_vectorised_tau_b_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, size=(50, 7)).astype(float), rng.integers(0, 4, size=(50, 7)).astype(float)
    ours = kendall_tau_b(x, y)
    theirs = np.array([kendalltau(a, b).statistic for a, b in zip(x, y)])
    assert np.allclose(ours, theirs, equal_nan=True)
    lo, hi = bootstrap_tau(rng.random((20, 5)), rng.random((20, 5)), n_boot=200)
    assert -1 <= lo <= hi <= 1


def test_rank_stability_between_operators():
    rows = []
    for m, (zero, noise) in enumerate([(10.0, 1.0), (20.0, 2.0), (30.0, 3.0)]):
        for clip in range(8):
            jitter = 0.01 * clip
            rows.append(
                {
                    "condition": "mixture",
                    "method": f"m{m}",
                    "id": f"c{clip}",
                    "seed": 1,
                    "version": 0,
                    "AI": zero + jitter,
                    "AI_mean": zero + jitter,
                    "AI_noise": -noise + jitter,
                }
            )
    ranks = rank_stability(pd.DataFrame(rows), n_boot=100)
    by_pair = ranks.set_index(["source_a", "source_b"])
    assert by_pair.loc[("zero", "mean"), "kendall_tau"] == 1.0
    assert by_pair.loc[("zero", "noise"), "kendall_tau"] == -1.0
    assert by_pair.loc[("zero", "noise"), "spearman"] == -1.0
    assert by_pair.loc[("zero", "noise"), "tau_ci_high"] == -1.0
    assert set(ranks["metric"]) == {"AI"}  # metrics without operator columns are left out
