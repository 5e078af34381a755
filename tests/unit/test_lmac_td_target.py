"""lmac_td.target_from: LMAC-TD explains the classifier's own decision, or (the reference) the one on its features."""

import torch

from lmac.checkpoints import load_checkpoint, save_checkpoint
from lmac.classifier.model import AudioClassifier
from lmac.explainers.base import Explainer
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import LmacTDExplainer, build_lmac_td

TINY = {"n_filters": 8, "chunk_size": 50, "num_blocks": 1, "intra_layers": 1, "intra_heads": 1}
TINY.update(inter_layers=1, inter_heads=1, d_ffn=16)


def _classifier():
    torch.manual_seed(0)
    return AudioClassifier([f"k{i}" for i in range(5)], width=0.0625).eval()


def test_features_target_is_the_n_fft_2048_decision_and_classifier_target_is_the_given_one():
    clf = _classifier()
    wav = torch.randn(6, 16000) * 0.3
    own = clf(wav)[0].argmax(-1)
    other = (own + 1) % 5  # a stand-in decision that certainly differs from any model's
    classifier_td = build_lmac_td(clf, TINY, "pr2838", 0.75, target_from="classifier")
    features_td = build_lmac_td(clf, TINY, "pr2838", 0.75, target_from="features")
    assert features_td.feature_n_fft == 2048
    torch.testing.assert_close(classifier_td.decision(wav, other), other)
    expected = clf.net(features_td.feature_frontend.features(wav))[0].argmax(-1)
    torch.testing.assert_close(features_td.decision(wav, other), expected)
    assert not torch.equal(features_td.decision(wav, other), other)
    exp = features_td.explain(wav, features_td.decision(wav, own))
    torch.testing.assert_close(exp.target, expected)


def test_other_explainers_explain_the_classifier_prediction():
    clf = _classifier()
    given = torch.tensor([3, 1])
    assert Explainer.decision is LmacExplainer.decision
    torch.testing.assert_close(LmacExplainer(clf).decision(torch.randn(2, 16000), given), given)


def test_target_from_survives_a_checkpoint_and_old_checkpoints_explain_the_classifier_decision(tmp_path):
    clf = _classifier()
    build_lmac_td(clf, TINY, "pr2838", 0.75, target_from="features").save(tmp_path / "td.pt")
    assert LmacTDExplainer.load(tmp_path / "td.pt", clf).target_from == "features"
    payload = load_checkpoint(tmp_path / "td.pt")
    del payload["config"]["target_from"]
    save_checkpoint(tmp_path / "old.pt", payload["kind"], payload["config"], payload["state_dict"], payload["meta"])
    assert LmacTDExplainer.load(tmp_path / "old.pt", clf).target_from == "classifier"
