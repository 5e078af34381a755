"""The sanity checks for one method: rows, decoders, known answers through the Explainer interface."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_fixture import tiny_classifier

from lmac.data.batches import split
from lmac.data.prepare import load_prepared
from lmac.errors import LmacError
from lmac.explainers.registry import build_explainer
from lmac.sanity.checks import Context, SanityJob, data_randomisation, evenly_spaced, other_classes, run_checks
from lmac.sanity.randomise import N_STEPS

CASCADING_COLUMNS = ["method", "seed", "decoder", "step", "block", "id", "spearman", "ssim"]


@pytest.fixture(scope="module")
def setup(tiny_prepared, tmp_path_factory) -> dict:
    """The shared tiny data and models, and another classifier of the same classes."""
    other = tmp_path_factory.mktemp("sanity") / "other.pt"
    tiny_classifier(seed=1).save(other)
    return {**tiny_prepared, "other": str(other)}


def _cascading(setup, method: str, tmp_path, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    job = SanityJob(method=method, seed=5, batch_size=2, **kw)
    outputs = {"cascading": str(tmp_path / "c.csv"), "random_logit": str(tmp_path / "r.csv")}
    frames = run_checks(setup["prepared"], setup["classifier"], job, outputs, device="cpu")
    assert set(frames) == {"cascading", "random_logit"}
    return frames["cascading"], frames["random_logit"]


def test_a_model_independent_map_fails_every_step(setup, tmp_path):
    frame, logit = _cascading(setup, "all_ones", tmp_path)
    assert list(frame.columns) == CASCADING_COLUMNS
    assert sorted(frame["step"].unique()) == list(range(N_STEPS + 1))
    assert len(frame) == 3 * (N_STEPS + 1)  # 3 test clips
    assert set(frame["decoder"]) == {"none"}
    np.testing.assert_allclose(frame[["spearman", "ssim"]], 1.0)
    # all_ones ignores the class: the random-logit check does not apply, and says why
    assert not logit["applicable"].any() and logit["spearman"].isna().all()
    assert logit["note"].str.contains("not applicable").all()
    assert pd.read_csv(tmp_path / "c.csv").shape == frame.shape


def test_the_cascade_runs_only_the_chosen_steps(setup, tmp_path):
    frame, _ = _cascading(setup, "saliency", tmp_path, cascade_steps=(N_STEPS, 1))
    assert sorted(frame["step"].unique()) == [0, 1, N_STEPS] and len(frame) == 3 * 3
    assert set(frame.loc[frame["step"] == N_STEPS, "block"]) == {"conv_block1"}
    with pytest.raises(LmacError, match="step must be an integer in 0..7, got 9"):
        _cascading(setup, "saliency", tmp_path, cascade_steps=(9,))


def test_a_gradient_map_departs_from_the_original(setup, tmp_path):
    frame, logit = _cascading(setup, "saliency", tmp_path)
    by_step = frame.groupby("step")[["spearman", "ssim"]].mean()
    np.testing.assert_allclose(by_step.loc[0], 1.0)
    assert (by_step.loc[N_STEPS] < 0.99).all()
    assert frame[["spearman", "ssim"]].stack().between(-1, 1).all()
    assert list(frame.loc[frame["step"] == 1, "block"].unique()) == ["head"]
    # saliency takes the class: another class gives another map
    assert logit["applicable"].all() and (logit["other"] != logit["predicted"]).all()
    assert logit["spearman"].between(-1, 1).all() and (logit["spearman"] < 1).any()


def test_fixed_and_retrained_decoders(setup, tmp_path):
    # the "retrained" decoders here are the same checkpoint: their scores must equal the fixed decoder's
    frame, logit = _cascading(
        setup,
        "lmac",
        tmp_path,
        explainer_path=setup["lmac"],
        n_clips=2,
        retrained={0: setup["lmac"], N_STEPS: setup["lmac"]},
    )
    fixed = frame[frame["decoder"] == "fixed"].set_index(["step", "id"])
    retrained = frame[frame["decoder"] == "retrained"].set_index(["step", "id"])
    assert sorted(fixed.index.get_level_values(0).unique()) == list(range(N_STEPS + 1))
    assert sorted(retrained.index.get_level_values(0).unique()) == [0, N_STEPS]
    pd.testing.assert_frame_equal(retrained[["spearman", "ssim"]], fixed.loc[retrained.index, ["spearman", "ssim"]])
    np.testing.assert_allclose(retrained.loc[0, ["spearman", "ssim"]], 1.0)
    # L-MAC's decoder does not take a class
    assert not logit["applicable"].any() and set(logit["decoder"]) == {"fixed"}


def test_data_randomisation_rows_and_known_answers(setup, tmp_path):
    job = SanityJob(method="saliency", seed=5, batch_size=2)
    ctx = Context.load(setup["prepared"], setup["classifier"], job, device="cpu")
    # the "permuted" classifier is the true one: identical explanations
    same = data_randomisation(ctx, job, setup["classifier"])
    np.testing.assert_allclose(same[["spearman", "ssim"]], 1.0)
    assert set(same["classifier"]) == {"permuted"} and set(same["decoder"]) == {"none"}
    assert (same["predicted"] == same["predicted_permuted"]).all()
    other = data_randomisation(ctx, job, setup["other"])
    assert (other["spearman"] < 0.99).all()
    # the whole job writes the data-randomisation rows too; a "retrained" decoder that is the same
    # checkpoint as the fixed one scores the same
    lmac = SanityJob(method="lmac", seed=5, batch_size=2, n_clips=2, explainer_path=setup["lmac"])
    frames = run_checks(
        setup["prepared"],
        setup["classifier"],
        lmac,
        {name: str(tmp_path / f"{name}.csv") for name in ("cascading", "random_logit", "data_randomisation")},
        (setup["other"], setup["lmac"]),
        device="cpu",
    )
    data = pd.read_csv(tmp_path / "data_randomisation.csv")
    assert list(data["decoder"].unique()) == ["fixed", "retrained"] and len(frames["data_randomisation"]) == 4
    fixed, retrained = (data[data["decoder"] == d].reset_index(drop=True) for d in ("fixed", "retrained"))
    np.testing.assert_allclose(fixed[["spearman", "ssim"]], retrained[["spearman", "ssim"]])


def test_data_randomisation_refuses_another_label_set(setup, tmp_path):
    tiny_classifier(["x", "y", "z"]).save(tmp_path / "renamed.pt")
    job = SanityJob(method="all_ones", seed=5)
    with pytest.raises(LmacError, match="classes differ"):
        data_randomisation(
            Context.load(setup["prepared"], setup["classifier"], job, device="cpu"), job, str(tmp_path / "renamed.pt")
        )
    with pytest.raises(LmacError, match="permuted-label classifier"):
        outputs = {"cascading": "c.csv", "random_logit": "r.csv", "data_randomisation": str(tmp_path / "d.csv")}
        run_checks(setup["prepared"], setup["classifier"], job, outputs)


def test_class_conditional_capability(setup):
    classifier = tiny_classifier()
    assert build_explainer("saliency", classifier).class_conditional
    assert not build_explainer("all_ones", classifier).class_conditional
    assert not build_explainer("lmac", classifier, setup["lmac"]).class_conditional


def test_other_classes_are_seeded_and_never_the_prediction():
    predicted = np.arange(200) % 5
    a, b = other_classes(predicted, 5, 1), other_classes(predicted, 5, 1)
    np.testing.assert_array_equal(a, b)
    assert (a != predicted).all() and set(a) == set(range(5))
    with pytest.raises(LmacError, match="two classes"):
        other_classes(predicted[:3] * 0, 1, 1)


def test_evenly_spaced_clips(setup):
    audio, manifest, _ = load_prepared(setup["prepared"])
    data = split(audio, manifest, "train")  # 9 clips
    assert evenly_spaced(data, None) is data and evenly_spaced(data, 50) is data
    picked = evenly_spaced(data, 3)
    assert picked.ids == [data.ids[0], data.ids[4], data.ids[8]]
    assert list(picked.labels) == [data.labels[0], data.labels[4], data.labels[8]]
