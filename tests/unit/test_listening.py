"""The listening page, the listening-test kit and the analysis of its ratings, on explanation files and
ratings shaped as the evaluation and the kit's page write them."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from listening_fixture import CLIP_SECONDS, simulated_ratings, write_evaluation

from lmac.errors import LmacError
from lmac.listening.analysis import Claim, analyse, holm, write_analysis
from lmac.listening.audio import PEAK, load_examples
from lmac.listening.kit import KitSettings, low_pass, write_listening_test
from lmac.listening.page import write_listening_page
from lmac.listening.plan import listening_plan
from lmac.listening.ratings import read_ratings

METHODS = ["lmac", "lmac_td_a0.75"]
TRUE = {"reference": 100, "anchor": 20, "lmac": 40, "lmac_ft": 45, "lmac_td_a0": 60, "lmac_td_a0.75": 70}


@pytest.fixture
def evaluation(tmp_path):
    explanations, scores = {}, {}
    for condition in ("clean", "mixture"):
        explanations[condition], scores[condition] = write_evaluation(tmp_path / "run", condition, METHODS)
    return explanations, scores


def test_examples_are_resampled_to_16_khz(tmp_path):
    npz, _ = write_evaluation(tmp_path, "mixture", ["lmac"], rate=32000)
    examples = load_examples(npz["lmac"], "lmac")
    assert examples.explanation.shape == (2, int(16000 * CLIP_SECONDS))
    with pytest.raises(LmacError, match="no such file"):
        load_examples(tmp_path / "missing.npz", "lmac")


def test_page_holds_every_sound_with_one_gain_per_clip(tmp_path, evaluation):
    explanations, scores = evaluation
    out = tmp_path / "page.html"
    write_listening_page(explanations, scores, 1, out, tmp_path / "audio", seed=1)
    text = out.read_text()
    # clean: input and two methods; mixture: input, clean target and two methods
    assert text.count("<audio") == 3 + 4 and text.count('<img alt="spectrogram') == 7
    assert "clean target" in text and "−1 dBFS" in text and "AI ↑ 10" in text
    wavs = {p.relative_to(tmp_path / "audio").as_posix(): sf.read(p) for p in (tmp_path / "audio").rglob("*.wav")}
    assert set(wavs) == {
        "clean/clip0/input.wav",
        "clean/clip0/lmac.wav",
        "clean/clip0/lmac_td_a0.75.wav",
        "mixture/clip0/input.wav",
        "mixture/clip0/clean_target.wav",
        "mixture/clip0/lmac.wav",
        "mixture/clip0/lmac_td_a0.75.wav",
    }
    assert all(rate == 16000 for _, rate in wavs.values())
    mixture = {k.split("/")[-1]: np.abs(w).max() for k, (w, _) in wavs.items() if k.startswith("mixture")}
    assert max(mixture.values()) == pytest.approx(PEAK, abs=1e-3)
    # one gain: the explanations keep their 0.1 : 0.2 ratio to the target
    assert mixture["lmac_td_a0.75.wav"] / mixture["clean_target.wav"] == pytest.approx(0.2, rel=0.01)
    assert mixture["lmac.wav"] / mixture["clean_target.wav"] == pytest.approx(0.1, rel=0.01)


def test_page_asks_for_no_more_clips_than_kept(tmp_path, evaluation):
    explanations, scores = evaluation
    with pytest.raises(LmacError, match="share 2 example clip"):
        write_listening_page(explanations, scores, 3, tmp_path / "page.html", tmp_path / "audio")


def test_kit_trials_hold_reference_hidden_reference_anchor_and_methods(tmp_path, evaluation):
    explanations, _ = evaluation
    table = write_listening_test(
        {"mixture": explanations["mixture"]},
        KitSettings(clips=2, seed=7),
        tmp_path / "index.html",
        tmp_path / "trials.csv",
        tmp_path / "audio",
    )
    assert (
        list(table.groupby("trial")["stimulus"].apply(sorted)) == [["anchor", "lmac", "lmac_td_a0.75", "reference"]] * 2
    )
    data = json.loads(
        re.search(
            r'<script id="kit-data" type="application/json">(.*?)</script>', (tmp_path / "index.html").read_text(), re.S
        ).group(1)
    )
    assert data["mode"] == "mushra" and data["seed"] == 7 and len(data["trials"]) == 2
    assert pd.read_csv(tmp_path / "trials.csv").equals(table)
    reference, _ = sf.read(tmp_path / "audio/mixture/clip1/reference.wav")
    anchor, _ = sf.read(tmp_path / "audio/mixture/clip1/anchor.wav")
    # clip1's target is a 600 Hz tone: the 3.5 kHz anchor keeps it
    assert np.abs(anchor).max() == pytest.approx(np.abs(reference).max(), rel=0.02)


def test_anchor_removes_what_lies_above_its_cutoff():
    t = np.arange(16000) / 16000
    high = np.sin(2 * np.pi * 6000 * t).astype(np.float32)
    assert np.abs(low_pass(high, 3500)[1000:-1000]).max() < 0.01


def test_kit_rejects_a_bad_mode_and_a_reserved_method_name(tmp_path, evaluation):
    explanations, _ = evaluation
    with pytest.raises(LmacError, match="mode 'abx'"):
        KitSettings(mode="abx")
    with pytest.raises(LmacError, match="may not be called reference"):
        write_listening_test(
            {"mixture": {"reference": explanations["mixture"]["lmac"]}},
            KitSettings(clips=1),
            tmp_path / "i.html",
            tmp_path / "t.csv",
            tmp_path / "a",
        )


def test_plan_takes_the_learned_methods_and_contaminated_conditions():
    config = {"evaluation": {"conditions": ["clean", "mixture"]}, "report": {"n_examples": 3}, "listening": {}}
    plan = listening_plan(config, ["lmac", "saliency", "lmac_td_a0.75"])
    assert plan.test_methods == ["lmac", "lmac_td_a0.75"] and plan.test_conditions == ["mixture"]
    bad = {**config, "listening": {"test": {"methods": ["ig"]}}}
    with pytest.raises(LmacError, match="'listening.test.methods': ig is not evaluated"):
        listening_plan(bad, ["lmac"])
    with pytest.raises(LmacError, match="'listening.page_clips': 4 clips"):
        listening_plan({**config, "listening": {"page_clips": 4}}, ["lmac"])


def test_holm_matches_its_step_down_definition():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])


def test_analysis_recovers_simulated_raters_preferences(tmp_path):
    paths = simulated_ratings(tmp_path, TRUE, participants=14, careless=3)
    result = analyse(paths, n_boot=500)
    screening = result["screening"].set_index("participant")
    assert sorted(screening.index[screening["excluded"]]) == ["p11", "p12", "p13"]
    scores = result["scores"].set_index("stimulus")
    # each mean is near the raters' true mean, and the means keep the true order
    # (11 participants' offsets, sd 5: their mean is off by about 1.5)
    for stimulus, mean in TRUE.items():
        assert abs(scores.loc[stimulus, "mean"] - mean) < 5, stimulus
    assert list(scores.drop(["reference", "anchor"]).sort_values("mean").index) == [
        "lmac",
        "lmac_ft",
        "lmac_td_a0",
        "lmac_td_a0.75",
    ]
    assert (scores["ci_low"] <= scores["mean"]).all() and (scores["mean"] <= scores["ci_high"]).all()
    comparisons = result["comparisons"]
    assert len(comparisons) == 6 and comparisons["significant"].all()
    verdict = result["verdict"].set_index("comparison")["verdict"]
    assert verdict.to_dict() == {
        "lmac_td_a0 vs lmac": "PASS",
        "lmac_td_a0.75 vs lmac": "PASS",
        "lmac_td is rated higher than lmac": "PASS",
    }


def test_analysis_fails_the_claim_when_raters_prefer_l_mac(tmp_path):
    reversed_ = {**TRUE, "lmac": 75}
    result = analyse(simulated_ratings(tmp_path, reversed_, participants=10))
    assert result["verdict"].iloc[-1]["verdict"] == "FAIL"
    mine = result["verdict"].set_index("comparison")
    assert mine.loc["lmac_td_a0.75 vs lmac", "mean_diff"] < 0


def test_analysis_finds_no_difference_between_equally_rated_methods(tmp_path):
    same = {"reference": 100, "anchor": 20, "lmac": 50, "lmac_td_a0.75": 50}
    result = analyse(simulated_ratings(tmp_path, same, participants=12, noise=10, seed=3))
    assert not result["comparisons"]["significant"].any()
    assert result["verdict"].iloc[-1]["verdict"] == "FAIL"


def test_claim_is_not_run_without_l_mac_ratings(tmp_path):
    result = analyse(simulated_ratings(tmp_path, {"reference": 100, "anchor": 20, "lmac_td_a0.75": 60}), claim=Claim())
    assert result["verdict"].iloc[-1]["verdict"] == "NOT RUN" and "lmac" in result["verdict"].iloc[-1]["note"]


def test_analysis_writes_tables_and_figure(tmp_path):
    paths = simulated_ratings(tmp_path, TRUE, participants=6)
    write_analysis(paths, tmp_path / "out", n_boot=200)
    for name in ("listening.md", "listening.html", "scores.csv", "comparisons.csv", "verdict.csv", "screening.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 100, name
    assert (tmp_path / "out/scores.png").read_bytes()[:4] == b"\x89PNG"
    assert "Holm p" in (tmp_path / "out/listening.md").read_text()


def test_bad_ratings_files_get_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("participant,mode,trial,stimulus,rating\np1,mushra,t1,lmac,150\n")
    with pytest.raises(LmacError, match=r"bad.csv: column rating holds a value that is no number in \[0, 100\]"):
        read_ratings([bad])
    bad.write_text("who,what\n1,2\n")
    with pytest.raises(LmacError, match="bad.csv: lacks the column"):
        read_ratings([bad])
    with pytest.raises(LmacError, match="no ratings file given"):
        read_ratings([])
