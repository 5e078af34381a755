"""CNN14 family: parity with SpeechBrain's Cnn14 at width 1, shapes at any width and length.

SpeechBrain is the numerical oracle here (a test-only dependency). Width-1 models are large
(~75 M parameters), so each is built once per module and run on one short batch.
"""

from __future__ import annotations

import math

import pytest
import torch

from lmac.classifier.cnn14 import Cnn14, Cnn14Classifier, channels
from lmac.errors import LmacError

sb_cnn14 = pytest.importorskip("speechbrain.lobes.models.Cnn14")
sb_linear = pytest.importorskip("speechbrain.nnet.linear")

T_5S = 431  # STFT frames of a 5 s / 16 kHz clip (hop 186 samples, centred frames)


def _perturb_bn_stats(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BatchNorm statistics/affines, so that eval-mode parity actually tests them."""
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            mod.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            mod.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            mod.weight.data.copy_(0.5 + torch.rand(n, generator=gen))
            mod.bias.data.copy_(0.1 * torch.randn(n, generator=gen))


@pytest.fixture(scope="module")
def width1_pair():
    """(ours, SpeechBrain's) width-1 CNN14 with SpeechBrain's weights loaded strictly into ours."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    sb = sb_cnn14.Cnn14(mel_bins=80, emb_dim=2048, norm_type="bn", return_reps=True).eval()
    with torch.no_grad():
        _perturb_bn_stats(sb, gen)
    ours = Cnn14(mel_bins=80, emb_dim=2048, width=1.0).eval()
    ours.load_state_dict(sb.state_dict(), strict=True)
    return ours, sb


@pytest.fixture(scope="module")
def width1_outputs(width1_pair):
    ours, sb = width1_pair
    feats = torch.randn(2, T_5S, 80, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return ours(feats), sb(feats)


def test_channels_values():
    assert channels(1.0) == [64, 128, 256, 512, 1024, 2048]
    assert channels(1 / 16) == [4, 8, 16, 32, 64, 128]
    assert channels(0.5, emb_dim=512) == [32, 64, 128, 256, 512, 256]
    assert channels(1e-4) == [1, 1, 1, 1, 1, 1]  # never zero channels
    with pytest.raises(LmacError):
        channels(0.0)


def test_width1_state_dict_keys_and_shapes_equal_speechbrain(width1_pair):
    ours, sb = width1_pair
    ours_sd, sb_sd = ours.state_dict(), sb.state_dict()
    assert list(ours_sd) == list(sb_sd)
    assert {k: tuple(v.shape) for k, v in ours_sd.items()} == {k: tuple(v.shape) for k, v in sb_sd.items()}


def test_width1_outputs_match_speechbrain(width1_outputs):
    (emb, hs), (sb_emb, sb_hs) = width1_outputs
    assert emb.shape == (2, 2048)
    torch.testing.assert_close(emb, sb_emb.squeeze(1), atol=1e-5, rtol=1e-5)
    assert len(hs) == len(sb_hs) == 4
    for ours_h, sb_h in zip(hs, sb_hs):
        torch.testing.assert_close(ours_h, sb_h, atol=1e-5, rtol=1e-5)


def test_width1_hs_shapes_for_5s_clip(width1_outputs):
    (_, hs), _ = width1_outputs
    assert [tuple(h.shape) for h in hs] == [(2, 2048, 13, 2), (2, 1024, 13, 2), (2, 512, 26, 5), (2, 256, 53, 10)]


def test_speechbrain_init_semantics():
    torch.manual_seed(0)
    model = Cnn14(width=1 / 16)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            assert torch.all(mod.weight == 1) and torch.all(mod.bias == 0)
        if isinstance(mod, torch.nn.Conv2d):
            assert mod.bias is None
            fan_out, fan_in = mod.weight.shape[0] * 9, mod.weight.shape[1] * 9
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # xavier_uniform, gain 1
            assert mod.weight.abs().max() <= bound
            assert mod.weight.abs().max() > 0.8 * bound  # not PyTorch's (narrower) kaiming default


@pytest.mark.parametrize("n_frames", [40, 100, 216, 431])
def test_small_width_any_length(n_frames):
    torch.manual_seed(0)
    model = Cnn14Classifier(n_classes=5, width=1 / 16).eval()
    with torch.no_grad():
        logits, hs = model(torch.randn(3, n_frames, 80))
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()
    t3, f3 = n_frames // 8, 80 // 8
    expected = [(3, 128, t3 // 4, f3 // 4), (3, 64, t3 // 4, f3 // 4), (3, 32, t3 // 2, f3 // 2), (3, 16, t3, f3)]
    assert [tuple(h.shape) for h in hs] == expected


def test_minimum_length_and_feature_checks():
    model = Cnn14(width=1 / 16).eval()
    with torch.no_grad():
        model(torch.randn(1, 32, 80))  # shortest clip that leaves one frame for block 6
        with pytest.raises(LmacError, match="at least 32 frames"):
            model(torch.randn(1, 31, 80))
        with pytest.raises(LmacError, match="80"):
            model(torch.randn(1, 100, 64))


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = Cnn14(width=1 / 16, dropout=0.5)
    feats = torch.randn(2, 100, 80)
    model.eval()
    with torch.no_grad():
        a, b = model(feats)[0], model(feats)[0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.train()
    with torch.no_grad():
        c, d = model(feats)[0], model(feats)[0]
    assert not torch.equal(c, d)


@pytest.fixture(scope="module")
def width1_classifier(width1_pair):
    _, sb = width1_pair
    clf = Cnn14Classifier(n_classes=50, width=1.0).eval()
    return clf, sb.state_dict()


@pytest.mark.parametrize("head_form", ["torch", "speechbrain"])
def test_load_speechbrain_head_forms(width1_classifier, head_form):
    clf, emb_state = width1_classifier
    torch.manual_seed(3)
    if head_form == "torch":
        head = torch.nn.Linear(2048, 50)
        weight, bias = head.weight, head.bias
    else:
        head = sb_linear.Linear(input_size=2048, n_neurons=50)
        weight, bias = head.w.weight, head.w.bias
    head_state = head.state_dict()
    assert set(head_state) == ({"weight", "bias"} if head_form == "torch" else {"w.weight", "w.bias"})
    clf.load_speechbrain(emb_state, head_state)
    torch.testing.assert_close(clf.classifier.weight, weight, rtol=0, atol=0)
    torch.testing.assert_close(clf.classifier.bias, bias, rtol=0, atol=0)
    for key, value in emb_state.items():
        torch.testing.assert_close(clf.embedding_model.state_dict()[key], value, rtol=0, atol=0)


def test_load_speechbrain_accepts_checkpoint_without_bn_counters(width1_classifier):
    clf, emb_state = width1_classifier
    torch.manual_seed(4)
    head = torch.nn.Linear(2048, 50).state_dict()
    # twice the weights loaded by the other tests, so that loading these shows in the model
    stripped = {
        k: 2 * v if v.is_floating_point() else v for k, v in emb_state.items() if not k.endswith("num_batches_tracked")
    }
    counters = {k: v.clone() for k, v in clf.embedding_model.state_dict().items() if k.endswith("num_batches_tracked")}
    assert counters and len(stripped) + len(counters) == len(emb_state)
    clf.load_speechbrain(stripped, head)
    loaded = clf.embedding_model.state_dict()
    for key, value in stripped.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    for key, value in counters.items():  # absent from the checkpoint: left as they were
        assert torch.equal(loaded[key], value), key
    torch.testing.assert_close(clf.classifier.weight, head["weight"], rtol=0, atol=0)
    torch.testing.assert_close(clf.classifier.bias, head["bias"], rtol=0, atol=0)


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_load_speechbrain_wrong_embedding_shape_names_key(width1_pair):
    _, sb = width1_pair
    tiny = Cnn14Classifier(n_classes=50, width=1 / 16)
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    with pytest.raises(LmacError) as excinfo:
        tiny.load_speechbrain(sb.state_dict(), torch.nn.Linear(128, 50).state_dict())
    msg = _one_line_error(excinfo)
    # norm0 (80 mel bins) does not depend on width: the first mismatch is the first conv
    assert "'conv_block1.conv1.weight'" in msg
    assert "(64, 1, 3, 3)" in msg and "(4, 1, 3, 3)" in msg
    # checked before anything is overwritten
    for k, v in tiny.state_dict().items():
        assert torch.equal(v, before[k])


def test_load_speechbrain_wrong_head_and_keys(width1_classifier):
    clf, emb_state = width1_classifier
    with pytest.raises(LmacError) as excinfo:
        clf.load_speechbrain(emb_state, {"w.weight": torch.zeros(10, 2048), "w.bias": torch.zeros(10)})
    msg = _one_line_error(excinfo)
    assert "'weight'" in msg and "(10, 2048)" in msg and "(50, 2048)" in msg

    missing = {k: v for k, v in emb_state.items() if k != "conv_block3.norm2.running_var"}
    with pytest.raises(LmacError, match="conv_block3.norm2.running_var"):
        clf.load_speechbrain(missing, torch.nn.Linear(2048, 50).state_dict())

    extra = dict(emb_state, **{"fc1.weight": torch.zeros(3)})
    with pytest.raises(LmacError, match="fc1.weight"):
        clf.load_speechbrain(extra, torch.nn.Linear(2048, 50).state_dict())
