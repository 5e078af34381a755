"""Smoke mode (lmac.smoke): the config rewrite keeps sizes and switches, the outputs carry the mark."""

from __future__ import annotations

import copy
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import yaml
from esc50_fixture import make_esc50_folder

from lmac.config import validated_config
from lmac.config_rules import plan_workflow
from lmac.smoke import mark
from lmac.smoke.mode import apply_smoke

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "config" / "paper.yaml"
SMOKE = ROOT / "config" / "smoke.yaml"


def paper_in_smoke_mode() -> tuple[dict, dict]:
    paper = validated_config(yaml.safe_load(PAPER.read_text()))
    smoked = copy.deepcopy(paper)
    smoked["smoke"] = yaml.safe_load(SMOKE.read_text())["smoke"]
    return paper, smoked


def test_smoke_mode_shrinks_every_count_and_nothing_else():
    paper, smoked = paper_in_smoke_mode()
    changes = apply_smoke(smoked)
    # one clip of the evaluated split (valid), two to train on, two interferers in the mixture pool (test)
    assert smoked["dataset"]["clips_per_split"] == {"train": 2, "valid": 1, "test": 2}
    assert smoked["seeds"] == [1] and smoked["claims"]["seeds"] == [1]
    for section in ("classifier", "lmac", "lmac_ft", "lmac_td", "l2i"):
        assert smoked[section]["epochs"] == 1, section
    assert smoked["baselines"]["ig"]["n_steps"] == 2 and smoked["baselines"]["smoothgrad"]["n_samples"] == 2
    assert smoked["nmf"]["iterations"] == 2 and smoked["lmac_td"]["encoder_decoder"]["steps_per_epoch"] == 2
    assert smoked["sanity"]["n_clips"] == 1 and smoked["sanity"]["permuted_epochs"] == 1
    # the cascade keeps the head and every block randomised (the step the claims read); the retrainings stay
    assert smoked["sanity"]["cascade_steps"] == [1, 7] and smoked["sanity"]["retrain_steps"] == [0, 7]
    # one contaminated version per clip; the rest of the evaluation, and all a smoke run must prove, as configured
    assert smoked["evaluation"] == {**paper["evaluation"], "versions": 1}
    for key in ("frontend", "noise"):
        assert smoked[key] == paper[key], key
    assert smoked["lmac_td"]["scale"] == paper["lmac_td"]["scale"] and smoked["lmac_td"]["alphas"] == [0, 0.75, 1]
    for section in ("classifier", "lmac", "lmac_td", "l2i"):
        assert smoked[section]["batch_size"] == paper[section]["batch_size"], section
    assert smoked["classifier"]["width"] == 1.0 and smoked["dataset"]["clip_seconds"] == 5.0
    # every change is reported, and each names its key with the old and the new value
    assert "classifier.epochs 200 -> 1" in changes and "baselines.ig.n_steps 50 -> 2" in changes
    changed = {line.split(" ", 1)[0] for line in changes}
    assert len(changed) == len(changes)


def test_smoke_clips_never_leave_the_mixture_pool_short_of_interferers():
    from lmac.smoke.mode import split_clips

    _, smoked = paper_in_smoke_mode()
    smoked["evaluation"].update(versions=3, mixture_pool="valid")
    assert split_clips(smoked, 1, None) == {"train": 2, "valid": 3, "test": 2}
    smoked["evaluation"]["conditions"] = ["clean", "speech"]  # no mixture: no pool to fill
    assert split_clips(smoked, 1, None) == {"train": 2, "valid": 1, "test": 2}
    assert split_clips(smoked, 1, {"train": 1}) == {"train": 1, "valid": 1, "test": 2}  # never more than configured


def test_the_cascade_is_spread_from_the_head_to_the_last_step():
    from lmac.smoke.mode import spread_steps

    assert spread_steps(None, 2) == [1, 7] and spread_steps(None, 3) == [1, 4, 7] and spread_steps(None, 1) == [7]
    assert spread_steps([5, 2], 2) == [2, 5] and spread_steps([3], 2) == [3]  # never more than configured
    assert spread_steps(None, 9) == list(range(1, 8))


def test_smoke_mode_never_raises_a_count_and_is_off_by_default():
    paper, smoked = paper_in_smoke_mode()
    smoked["baselines"]["ig"]["n_steps"] = 1
    smoked["smoke"]["steps"] = 5
    apply_smoke(smoked)
    assert smoked["baselines"]["ig"]["n_steps"] == 1 and smoked["baselines"]["smoothgrad"]["n_samples"] == 5
    untouched = copy.deepcopy(paper)
    assert apply_smoke(untouched) == [] and untouched == paper


def test_smoke_run_has_its_own_folder(tmp_path):
    config = yaml.safe_load(PAPER.read_text())
    config["smoke"] = {"enabled": True}
    plan = plan_workflow(config, {}, [str(PAPER)], ROOT / "config")
    assert plan.run == "paper-smoke" and plan.smoke_changes
    real = plan_workflow(yaml.safe_load(PAPER.read_text()), {}, [str(PAPER)], ROOT / "config")
    assert real.run == "paper" and real.smoke_changes == []


def test_clips_per_split_keeps_the_whole_class_list(tmp_path):
    from lmac.data.prepare import load_prepared, prepare_dataset

    raw = make_esc50_folder(tmp_path / "raw", n_classes=4, clips_per_fold=2, seconds=0.2)
    settings = {"sample_rate": 8000, "clip_seconds": 0.2, "label_order": "first_appearance"}
    prepare_dataset(raw, tmp_path / "full", **settings)
    prepare_dataset(raw, tmp_path / "few", clips_per_split=3, **settings)
    prepare_dataset(raw, tmp_path / "mapped", clips_per_split={"train": 1, "valid": 2}, **settings)
    audio_full, full, classes_full = load_prepared(tmp_path / "full")
    audio_few, few, classes_few = load_prepared(tmp_path / "few")
    assert classes_few == classes_full and len(classes_few) == 4
    assert few.groupby("split").size().to_dict() == {"test": 3, "train": 3, "valid": 3}
    # the kept clips are the first of each split, with the labels and audio the full preparation gives them
    kept = full.groupby("split", sort=False).head(3)
    assert list(few["filename"]) == list(kept["filename"]) and list(few["label"]) == list(kept["label"])
    np.testing.assert_array_equal(audio_few, audio_full[kept["index"].to_numpy()])
    _, mapped, _ = load_prepared(tmp_path / "mapped")  # a split left out of the mapping keeps every clip
    assert mapped.groupby("split").size().to_dict() == {"test": 8, "train": 1, "valid": 2}


@pytest.fixture
def smoke_marked():
    mark.set_from_config({"smoke": {"enabled": True}})
    yield
    mark.set_from_config(None)


def test_tables_carry_the_smoke_mark_in_every_format(smoke_marked):
    from lmac.reporting.table_model import Table, html_page

    table = Table(["method", "AI"], [["lmac", "61.2"]])
    assert table.to_markdown()[0] == f"**{mark.TEXT}**"
    assert any(mark.TEXT.split(":")[0] in line and r"\multicolumn{2}" in line for line in table.to_latex())
    assert "<caption" in table.to_html() and mark.TEXT in table.to_html()
    assert mark.TEXT in html_page("t", [])


def test_tables_are_unmarked_outside_smoke_mode():
    from lmac.reporting.table_model import Table, html_page

    mark.set_from_config({"smoke": {"enabled": False}})
    table = Table(["method", "AI"], [["lmac", "61.2"]])
    assert table.to_markdown()[0].startswith("| method")
    assert "SMOKE" not in "\n".join(table.to_latex()) + table.to_html() + html_page("t", [])


def test_figures_carry_the_smoke_mark(tmp_path, smoke_marked):
    from lmac.reporting.plotting import save_figure

    def pixels(path: Path, smoke: bool) -> np.ndarray:
        mark.set_from_config({"smoke": {"enabled": smoke}})
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, 1])
        save_figure(fig, path)
        return plt.imread(path)

    marked, plain = pixels(tmp_path / "smoke.png", True), pixels(tmp_path / "plain.png", False)
    red = (marked[..., 0] > 0.6) & (marked[..., 1] < 0.5) & (marked[..., 2] < 0.5)
    assert red.sum() > 100 and not ((plain[..., 0] > 0.6) & (plain[..., 1] < 0.5) & (plain[..., 2] < 0.5)).any()


def test_smoke_paper_reads_its_core_count_or_says_what_is_wrong(tmp_path, capsys):
    from lmac.smoke.paper import core_count, main

    assert core_count("3") == 3 and core_count("all") >= 1
    workdir = tmp_path / "work"
    assert main(["--cores", "two", "--workdir", str(workdir), "--standins", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "smoke-paper: --cores: expected a positive number or 'all', got 'two'"
    assert not workdir.exists() and not (tmp_path / "s").exists()  # refused before building anything
