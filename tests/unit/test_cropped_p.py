"""evaluation.cropped_p: for a map on a cropped grid, p comes from the cropped spectrogram or (the reference) the full input."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from esc50_fixture import make_tiny_prepared  # noqa: E402

from lmac.classifier.model import load_classifier
from lmac.evaluation.evaluate import EvalJob, evaluate
from lmac.explainers.lmac import LmacExplainer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The tiny prepared dataset, a classifier whose decision depends on its input, and an L-MAC on the
    reference's frames whose mask is all ones."""
    root = Path(make_tiny_prepared(tmp_path_factory.mktemp("cropped_p"))["root"])
    classifier = load_classifier(root / "classifier.pt")
    with torch.no_grad():  # an untrained CNN14's embedding is tiny: scaled up, the decision depends on the input
        classifier.net.classifier.weight.mul_(1e4)
    classifier.save(root / "classifier.pt")
    explainer = LmacExplainer(classifier, frames="reference")
    with torch.no_grad():  # sigmoid(50) = 1: the masked-in input is the cropped spectrogram itself
        explainer.decoder.convt9.weight.zero_()
        explainer.decoder.convt9.bias.fill_(50.0)
    explainer.save(root / "lmac.pt")
    return root


def _scores(root, cropped_p: str) -> pd.DataFrame:
    job = EvalJob(method="lmac", condition="clean", batch_size=3, explainer_path=str(root / "lmac.pt"), extras=())
    job = replace(job, cropped_p=cropped_p)
    return evaluate(str(root / "prepared"), str(root / "classifier.pt"), job, str(root / "s.csv"), str(root / "s.npz"))


def test_cropped_p_compares_the_mask_with_the_same_cropped_spectrogram(setup):
    frame = _scores(setup, "cropped")
    # an all-ones mask keeps exactly what p was computed on
    np.testing.assert_allclose(frame["AD"], 0.0, atol=1e-4)
    np.testing.assert_allclose(frame["AG"], 0.0, atol=1e-4)


def test_full_p_takes_the_unmasked_probability_from_the_whole_input(setup):
    cropped, full = _scores(setup, "cropped"), _scores(setup, "full")
    # the dropped frames change the classifier's output: the all-ones mask no longer scores zero
    assert (full["AD"] + full["AG"]).abs().max() > 1e-3
    np.testing.assert_allclose(full["SPS"], cropped["SPS"])  # the map itself is the same
