"""The evaluation harness: one code path for every method, identical inputs, localisation, tables."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from esc50_fixture import TINY_SR
from model_fixture import TINY_TD_2HEADS, tiny_classifier

from lmac.classifier.model import load_classifier
from lmac.data.noise import GeneratedNoise
from lmac.data.speech import SyntheticSpeech
from lmac.errors import LmacError
from lmac.evaluation.evaluate import EvalJob, evaluate, evaluate_methods, learned_checkpoints
from lmac.evaluation.localisation import LOCALISATION_METRICS
from lmac.evaluation.metrics import METRICS
from lmac.evaluation.scoring import classify
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import build_lmac_td
from lmac.explainers.registry import build_explainer, expand_methods, is_learned
from lmac.reporting.tables import aggregate, to_latex, to_markdown, to_nested, write_tables

SR = TINY_SR
TINY_TD = TINY_TD_2HEADS


@pytest.fixture(scope="module")
def setup(tiny_prepared, tmp_path_factory) -> dict:
    """The shared tiny data and models; this module's own outputs go to ``root``."""
    return {**tiny_prepared, "root": tmp_path_factory.mktemp("eval")}


def _run(setup, method: str, condition: str, **kw) -> tuple[pd.DataFrame, dict]:
    root = setup["root"]
    settings = {
        "method": method,
        "condition": condition,
        "batch_size": 2,
        "seed": 5,
        "keep_examples": 2,
        "event_masks": setup["events"],
        "noise_source": GeneratedNoise(1, SR),
        "speech_source": SyntheticSpeech(SR, 2),
        "explainer_path": setup["lmac"] if is_learned(method) else None,
        **kw,
    }
    job = EvalJob(**settings)
    out = root / condition / method
    frame = evaluate(
        setup["prepared"],
        setup["classifier"],
        job,
        str(out / "scores.csv"),
        str(out / "explanations.npz"),
        device="cpu",
    )
    return frame, dict(np.load(out / "explanations.npz"))


def test_every_method_is_scored_on_identical_inputs(setup):
    lmac, lmac_npz = _run(setup, "lmac", "mixture")
    ones, ones_npz = _run(setup, "all_ones", "mixture", batch_size=3)  # another batch size, same items
    # 3 test clips (fold 5) × 2 versions
    assert len(lmac) == len(ones) == 6
    assert lmac[["id", "version"]].equals(ones[["id", "version"]])
    np.testing.assert_array_equal(lmac_npz["input"], ones_npz["input"])
    np.testing.assert_array_equal(lmac_npz["target"], ones_npz["target"])
    assert not np.array_equal(lmac_npz["input"], lmac_npz["target"])  # the interferer is really there
    assert (lmac["predicted"] == ones["predicted"]).all()  # the explained class does not depend on the method


def test_rows_carry_every_metric_and_localisation_score(setup):
    frame, npz = _run(setup, "lmac", "clean")
    assert set(frame["condition"]) == {"clean"} and set(frame["version"]) == {0}
    for column in (*METRICS, *LOCALISATION_METRICS, "explain_s"):
        assert column in frame.columns, column
    # the synthetic dataset gives every clip its event region, so localisation is defined
    assert frame[list(LOCALISATION_METRICS)].notna().all().all()
    assert npz["mask"].shape[0] == 2 and npz["waveform"].shape == npz["input"].shape


def test_all_ones_mask_keeps_everything(setup):
    frame, _ = _run(setup, "all_ones", "white_noise")
    # M = 1: the masked-in input is the input, so confidence neither rises nor drops
    np.testing.assert_array_equal(frame["AI"], 0.0)
    np.testing.assert_array_equal(frame["AG"], 0.0)
    np.testing.assert_allclose(frame["AD"], 0.0, atol=1e-4)
    np.testing.assert_allclose(frame["FidIn"], 1.0)
    np.testing.assert_allclose(frame["MM"], 1.0)


def test_all_masks_kept_on_request(setup):
    frame, npz = _run(setup, "lmac", "clean", keep_all_masks=True)
    assert list(npz["mask_ids"]) == frame["id"].tolist()
    masks = npz["masks"].astype(np.float32)
    np.testing.assert_allclose(masks.reshape(len(masks), -1).mean(1), frame["MM"], atol=2e-3)


def _job(setup, method: str, condition: str, **kw) -> EvalJob:
    return EvalJob(
        method=method,
        condition=condition,
        batch_size=2,
        seed=5,
        keep_examples=2,
        event_masks=setup["events"],
        noise_source=GeneratedNoise(1, SR),
        speech_source=SyntheticSpeech(SR, 2),
        explainer_path=setup["lmac"] if is_learned(method) else None,
        **kw,
    )


def test_grouped_evaluation_writes_what_each_method_writes_alone(setup):
    root = Path(setup["root"])
    classifier = load_classifier(setup["classifier"])
    # an L-MAC on the recipe's frame count crops its logspec: it gets its own reference, not the shared one
    LmacExplainer(classifier, frames="reference").save(root / "lmac_cropped.pt")
    torch.manual_seed(1)  # LMAC-TD: its heard masked-in is its masked-in, classified once
    build_lmac_td(classifier, TINY_TD, "nov2024", 0.75).save(root / "lmac_td.pt")
    base = _job(setup, "lmac", "speech", keep_all_masks=True)
    jobs = [
        base,
        replace(base, method="lmac_ft", explainer_path=str(root / "lmac_cropped.pt")),
        replace(base, method="lmac_td_a0.75", explainer_path=str(root / "lmac_td.pt")),
        *(replace(base, method=m, explainer_path=None) for m in ("all_ones", "random", "saliency")),
    ]
    out = root / "grouped"
    grouped = evaluate_methods(
        setup["prepared"],
        setup["classifier"],
        jobs,
        [(str(out / f"{j.method}.csv"), str(out / f"{j.method}.npz")) for j in jobs],
        device="cpu",
    )
    for job, frame in zip(jobs, grouped):
        alone = evaluate(
            setup["prepared"],
            setup["classifier"],
            job,
            str(root / "alone.csv"),
            str(root / "alone.npz"),
            device="cpu",
        )
        pd.testing.assert_frame_equal(
            frame.drop(columns="explain_s"), alone.drop(columns="explain_s"), check_exact=True
        )
        pd.testing.assert_frame_equal(
            pd.read_csv(out / f"{job.method}.csv").drop(columns="explain_s"),
            pd.read_csv(root / "alone.csv").drop(columns="explain_s"),
            check_exact=True,
        )
        with np.load(out / f"{job.method}.npz") as a, np.load(root / "alone.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{job.method}: {key}")
    assert len(grouped[0]) == 6 and grouped[1]["AI"].notna().all()
    with np.load(out / "lmac.npz") as padded, np.load(out / "lmac_ft.npz") as cropped:
        assert cropped["logspec"].shape[1] < padded["logspec"].shape[1]


def test_grouped_methods_must_share_everything_but_the_method(setup):
    base = _job(setup, "all_ones", "clean")
    with pytest.raises(LmacError, match="differ in 'condition'"):
        evaluate_methods(
            setup["prepared"],
            setup["classifier"],
            [base, replace(base, method="random", condition="mixture")],
            [("a", "b"), ("c", "d")],
        )
    with pytest.raises(LmacError, match="listed twice"):
        evaluate_methods(setup["prepared"], setup["classifier"], [base, base], [("a", "b"), ("c", "d")])
    assert learned_checkpoints(["saliency", "lmac", "lmac_td_a0"], ["l.pt", "t.pt"]) == {
        "lmac": "l.pt",
        "lmac_td_a0": "t.pt",
    }
    with pytest.raises(LmacError, match="one per learned method"):
        learned_checkpoints(["lmac", "saliency"], [])


def test_concatenated_forward_gives_the_separate_passes_logits():
    classifier = tiny_classifier().requires_grad_(False)
    x = torch.rand(3, 40, 513) * 2
    specs = {"in": x * 0.5, "out": x * 0.25, "dup": x * 0.5, "short": x[:, :33], "same": x.clone()}
    specs["same"][1] *= 0.1  # rows 0 and 2 are the reference's input, row 1 is not
    with torch.no_grad():
        reference = classifier.classify_logspec(x)
        separate = {name: classifier.classify_logspec(spec) for name, spec in specs.items()}
        rows = []
        forward = classifier.classify_logspec
        classifier.classify_logspec = lambda spec: rows.append(len(spec)) or forward(spec)
        batched = classify(classifier, specs, [(x, reference)])
    # BatchNorm in eval mode: a row's logits do not depend on the rows classified with it
    for name, logits in separate.items():
        torch.testing.assert_close(batched[name], logits, rtol=1e-5, atol=1e-6)
    assert torch.equal(batched["same"][[0, 2]], reference[[0, 2]])  # the reference's rows get its very logits
    # one forward per grid: in, out and the odd row of same; dup is in's; then short
    assert sorted(rows) == [3, 7]


def test_learned_method_without_checkpoint_and_unknown_method_are_one_line_errors(setup):
    classifier = tiny_classifier(["a", "b"])
    with pytest.raises(LmacError, match="needs its checkpoint"):
        build_explainer("lmac_ft", classifier)
    with pytest.raises(LmacError, match="unknown explanation method 'nope'"):
        build_explainer("nope", classifier)


def test_a_learned_method_gets_its_own_checkpoint(setup, tmp_path):
    """Checkpoints given in another order than the methods would score one method under another's name."""
    classifier = load_classifier(setup["classifier"])
    LmacExplainer(classifier).save(tmp_path / "lmac.pt", meta={"method": "lmac"})
    LmacExplainer(classifier).save(tmp_path / "ft.pt", meta={"method": "lmac_ft"})
    build_lmac_td(classifier, TINY_TD, "nov2024", 0.0).save(tmp_path / "td0.pt")
    assert isinstance(build_explainer("lmac_ft", classifier, str(tmp_path / "ft.pt")), LmacExplainer)
    assert build_explainer("lmac_td_a0.0", classifier, str(tmp_path / "td0.pt")).alpha == 0.0
    build_explainer("lmac_ft", classifier, setup["lmac"])  # untrained, no method recorded: nothing to check
    for method, path, needle in [
        ("lmac_ft", "lmac.pt", "lmac.pt: holds lmac, not lmac_ft"),
        ("lmac", "ft.pt", "ft.pt: holds lmac_ft, not lmac"),
        ("lmac_td_a1", "td0.pt", "td0.pt: holds lmac_td_a0, not lmac_td_a1"),
        ("lmac_td_a0", "lmac.pt", "lmac.pt: is a 'lmac' checkpoint, method 'lmac_td_a0' needs an 'lmac_td' one"),
        ("lmac", "td0.pt", "td0.pt: is a 'lmac_td' checkpoint, method 'lmac' needs an 'lmac' one"),
        ("lmac_td_a1.2.3", "td0.pt", "method 'lmac_td_a1.2.3': α is not a number"),
    ]:
        with pytest.raises(LmacError, match=re.escape(needle)):
            build_explainer(method, classifier, str(tmp_path / path))


def test_lmac_td_stands_for_one_method_per_alpha():
    assert expand_methods(["lmac", "lmac_td", "ig"], [0, 0.75, 1.0]) == [
        "lmac",
        "lmac_td_a0",
        "lmac_td_a0.75",
        "lmac_td_a1",
        "ig",
    ]
    assert is_learned("lmac_td_a0.75") and is_learned("lmac_ft") and not is_learned("saliency")


def _per_sample() -> pd.DataFrame:
    rows = []
    for condition in ("clean", "mixture"):
        for method, ai in (("lmac", 40.0), ("saliency", 10.0)):
            for i in range(4):
                rows.append(
                    {
                        "id": str(i),
                        "condition": condition,
                        "method": method,
                        "split": "test",
                        "correct": i < 3,
                        "explain_s": 0.002,
                        **{m: 0.5 for m in METRICS},
                        "AI": ai + i,
                        **{m: np.nan for m in LOCALISATION_METRICS},
                    }
                )
    return pd.DataFrame(rows)


def test_tables_have_one_block_per_condition_with_cis():
    table = aggregate(_per_sample(), n_boot=200, seed=0)
    ai = table[(table.metric == "AI") & (table.method == "lmac") & (table.condition == "mixture")].iloc[0]
    assert ai["mean"] == pytest.approx(41.5) and ai["ci_low"] <= 41.5 <= ai["ci_high"]
    assert ai["classifier_accuracy"] == pytest.approx(0.75) and ai["explain_ms_per_clip"] == pytest.approx(2.0)
    md = to_markdown(table, accuracy=0.9)
    assert md.count("### Condition:") == 2 and "AI ↑" in md and "| saliency |" in md
    assert "–" in md  # undefined localisation shown as a dash, not nan
    tex = to_latex(table)
    assert tex.count(r"\begin{tabular}") == 2 and "AD\\_ref" in tex and "nan" not in tex
    nested = to_nested(table, accuracy=0.9)
    assert nested["mixture"]["lmac"]["AI"] == pytest.approx(41.5)
    assert nested["clean"]["lmac"][LOCALISATION_METRICS[0]] is None


def test_write_tables_round_trip(tmp_path: Path):
    per_sample = tmp_path / "scores.csv"
    _per_sample().to_csv(per_sample, index=False)
    table = write_tables(
        [str(per_sample)],
        str(tmp_path / "t.csv"),
        str(tmp_path / "t.md"),
        str(tmp_path / "t.json"),
        0.9,
        n_boot=100,
        out_tex=str(tmp_path / "t.tex"),
    )
    # each file is the table of the per-sample rows it read back, in its format
    expected = aggregate(_per_sample(), n_boot=100, seed=0)
    written = pd.read_csv(tmp_path / "t.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    pd.testing.assert_frame_equal(table, expected)
    ai = written[(written.metric == "AI") & (written.method == "lmac") & (written.condition == "mixture")]
    assert ai["mean"].tolist() == [41.5] and ai["n"].tolist() == [4]
    assert (tmp_path / "t.md").read_text() == to_markdown(expected, accuracy=0.9)
    assert (tmp_path / "t.tex").read_text() == to_latex(expected)
    nested = json.loads((tmp_path / "t.json").read_text())
    assert nested == json.loads(json.dumps(to_nested(expected, accuracy=0.9)))
    assert nested["mixture"]["lmac"]["AI"] == 41.5 and nested["classifier_test_accuracy"] == 0.9
