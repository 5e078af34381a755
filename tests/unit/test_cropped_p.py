"""evaluation.cropped_p: for a map on a cropped grid, p comes from the cropped spectrogram or (the reference) the full input."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lmac.classifier.model import AudioClassifier
from lmac.evaluation.evaluate import EvalJob, evaluate
from lmac.explainers.lmac import LmacExplainer

SR, N = 16000, 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Six 1 s test clips, a random tiny classifier and an L-MAC on the reference's frames whose mask is all ones."""
    root = tmp_path_factory.mktemp("cropped_p")
    data = root / "prepared"
    data.mkdir()
    g = np.random.default_rng(0)
    np.save(data / "audio.npy", (0.3 * g.standard_normal((N, SR))).astype(np.float32))
    pd.DataFrame(
        {
            "index": range(N),
            "id": [f"c{i}" for i in range(N)],
            "filename": [f"c{i}.wav" for i in range(N)],
            "fold": 5,
            "split": "test",
            "label": [i % 3 for i in range(N)],
            "category": [f"k{i % 3}" for i in range(N)],
            "duration_s": 1.0,
        }
    ).to_csv(data / "manifest.csv", index=False)
    (data / "classes.txt").write_text("k0\nk1\nk2\n")
    torch.manual_seed(0)
    classifier = AudioClassifier(["k0", "k1", "k2"], width=0.0625)
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
