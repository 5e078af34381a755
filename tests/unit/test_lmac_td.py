"""LMAC-TD model and explainer: shapes, α paths, presets, the paper-scale build, checkpoints."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml
from model_fixture import TINY_TD_2HEADS, tiny_classifier

from lmac.classifier.model import AudioClassifier
from lmac.errors import LmacError
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import LmacTDExplainer, build_lmac_td, fit_length, kept_share
from lmac.explainers.lmac_td_parts import SigmoidDualPathModel, TDUpsampler
from lmac.explainers.lmac_td_presets import EMBEDDED_SCALE, PRESETS, TDArch, resolve_arch
from lmac.frontend import FrontEnd, FrontEndConfig

ROOT = Path(__file__).resolve().parents[2]

SR = 16000


def tiny_td(clf, alpha: float, preset: str = "nov2024", seed: int = 1) -> LmacTDExplainer:
    torch.manual_seed(seed)
    return build_lmac_td(clf, TINY_TD_2HEADS, preset, alpha).eval()


@pytest.mark.parametrize("alpha", [0.0, 0.75, 1.0])
@pytest.mark.parametrize("length", [SR, SR + 1, 3 * SR, 23457])
def test_outputs_have_exactly_the_input_length(clf, alpha, length):
    model = tiny_td(clf, alpha)
    wav = torch.randn(2, length) * 0.1
    with torch.no_grad():
        out = model(wav)
    assert out.explanation.shape == out.masked_out.shape == (2, length)
    assert out.mask.shape == (2, 8, (length - 16) // 8 + 1)
    assert 0 < out.mask.min() and out.mask.max() < 1  # sigmoid output
    assert torch.isfinite(out.explanation).all()


def test_a_single_clip_batch_keeps_its_batch_axis(clf):
    # SpeechBrain's Decoder squeezes its output; a batch of one must still come back [1, L]
    out = tiny_td(clf, 0.75)(torch.randn(1, SR + 5) * 0.1)
    assert out.explanation.shape == (1, SR + 5)


def test_explanation_and_masked_out_split_the_encoder_resynthesis(clf):
    # D is linear, so i + o = D(E(x)) whatever the mask
    model = tiny_td(clf, 0.75)
    wav = torch.randn(2, SR) * 0.1
    with torch.no_grad():
        out = model(wav)
        full = model.decode(model.encoder(wav), SR)
    torch.testing.assert_close(out.explanation + out.masked_out, full, atol=1e-6, rtol=1e-5)


def test_explain_fields_are_on_the_classifier_grid(clf):
    model = tiny_td(clf, 1.0)
    wav = torch.randn(2, SR) * 0.1
    exp = model.explain(wav)
    fe = clf.frontend
    grid = (2, fe.cfg.n_frames(SR), fe.cfg.n_freqs)
    assert exp.logspec.shape == exp.mask.shape == exp.masked_in.shape == exp.masked_out.shape == grid
    torch.testing.assert_close(exp.logspec, fe.log_spectrogram(wav))
    torch.testing.assert_close(exp.masked_in, fe.log_spectrogram(exp.waveform))
    assert exp.waveform.shape == wav.shape
    assert exp.mask.min() >= 0 and exp.mask.max() <= 1
    torch.testing.assert_close(exp.mask, exp.masked_in / (exp.masked_in + exp.masked_out))
    assert torch.equal(exp.target, clf(wav)[0].argmax(-1))
    # the faithfulness metrics classify masked_in with the classifier's own front end
    assert clf.classify_logspec(exp.masked_in).shape == (2, 3)


def test_kept_share():
    a = torch.tensor([0.0, 1.0, 3.0, 0.0])
    b = torch.tensor([0.0, 1.0, 1.0, 2.0])
    assert kept_share(a, b).tolist() == [0.0, 0.5, 0.75, 0.0]


def test_fit_length_pads_with_zeros_and_crops():
    x = torch.ones(2, 5)
    assert fit_length(x, 7).tolist() == [[1, 1, 1, 1, 1, 0, 0]] * 2
    assert fit_length(x, 3).shape == (2, 3)


# -- α paths ---------------------------------------------------------------------------------


def test_masker_input_at_alpha_0_ignores_the_classifier_and_at_1_the_encoder(clf):
    wav = torch.randn(2, SR) * 0.1
    hs = clf(wav)[1]
    other_hs = tiny_classifier(seed=5).requires_grad_(False)(wav)[1]
    enc = torch.rand(2, 8, (SR - 16) // 8 + 1)
    other_enc = torch.rand_like(enc)
    with torch.no_grad():
        m0 = tiny_td(clf, 0.0)
        assert m0.upsampler is None  # U is not even built
        assert torch.equal(m0.masker_input(enc, hs), m0.masker_input(enc, other_hs))
        m1 = tiny_td(clf, 1.0)
        assert torch.equal(m1.masker_input(enc, hs), m1.masker_input(other_enc, hs))
        mix = tiny_td(clf, 0.75)
        z = mix.masker_input(enc, hs)
        assert not torch.equal(z, mix.masker_input(other_enc, hs))
        assert not torch.equal(z, mix.masker_input(enc, other_hs))
        u = mix.masker_input(torch.zeros_like(enc), hs) / 0.75
        torch.testing.assert_close(z, 0.25 * enc + 0.75 * u)


@pytest.mark.parametrize("alpha, expect_same", [(0.0, True), (0.75, False)])
def test_mask_at_alpha_0_does_not_depend_on_the_classifier(clf, alpha, expect_same):
    wav = torch.randn(2, SR) * 0.1
    model = tiny_td(clf, alpha)
    twin = LmacTDExplainer(tiny_classifier(seed=7).requires_grad_(False), model.arch, alpha).eval()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        same = torch.equal(model(wav).mask, twin(wav).mask)
    assert same is expect_same


@pytest.mark.parametrize("alpha, expect_same", [(1.0, True), (0.75, False)])
def test_mask_at_alpha_1_does_not_depend_on_the_encoder(clf, alpha, expect_same):
    wav = torch.randn(2, SR) * 0.1
    model = tiny_td(clf, alpha)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.encoder.conv1d.weight.mul_(3.0).add_(0.1)
        a, b = model(wav), twin(wav)
    assert torch.equal(a.mask, b.mask) is expect_same
    assert not torch.equal(a.explanation, b.explanation)  # E still carries the signal


# -- paper scale --------------------------------------------------------------------------------


def test_hs_spatial_shapes_at_5s_match_the_reference(clf):
    hs = clf(torch.zeros(1, 5 * SR))[1]
    assert [tuple(h.shape[2:]) for h in hs] == [(13, 2), (13, 2), (26, 5), (53, 10)]


def test_upsampler_at_width_1_is_the_reference_geometry_and_size():
    with torch.device("meta"):
        u = TDUpsampler(1.0)
        hs = (
            torch.empty(1, 2048, 13, 2),
            torch.empty(1, 1024, 13, 2),
            torch.empty(1, 512, 26, 5),
            torch.empty(1, 256, 53, 10),
        )
        out = u(hs)
    assert tuple(out.shape) == (1, 11082, 256)  # the class docstring's [B, 1, 11082, 256]
    specs = [
        (2048, 512, 7 * 7),
        (1024, 512, 7 * 7),
        (512, 512, 12 * 11),
        (512, 512, 7 * 7),
        (512, 256, 7 * 7),
        (256, 256, 7 * 11),
        (256, 256, 4 * 3),
        (256, 128, 10 * 7),
        (128, 1, 8 * 10),
    ]
    expected = sum(i * o * k + o for i, o, k in specs)
    assert sum(p.numel() for p in u.parameters()) == expected
    assert 139.0e6 < expected < 139.2e6  # the reference: ≈ 139 M


@pytest.mark.parametrize("preset, intra", [("nov2024", (8, 8)), ("pr2838", (4, 4))])
def test_paper_settings_build_at_width_1(preset, intra):
    with torch.device("meta"):
        clf = AudioClassifier([f"c{i}" for i in range(50)], width=1.0)
        model = build_lmac_td(clf, "paper", preset)
    assert model.arch.n_filters == 256 and model.arch.chunk_size == 250 and model.arch.num_blocks == 2
    assert model.encoder.conv1d.kernel_size == (16,) and model.encoder.conv1d.stride == (8,)
    assert model.decoder.kernel_size == (16,) and model.decoder.stride == (8,)
    assert isinstance(model.masker, SigmoidDualPathModel) and isinstance(model.masker.activation, torch.nn.Sigmoid)
    block = model.masker.dual_mdl[0]
    intra_layers, inter_layers = block.intra_mdl.mdl.layers, block.inter_mdl.mdl.layers
    assert len(intra_layers) == intra[0] and intra_layers[0].self_att.att.num_heads == intra[1]
    assert len(inter_layers) == 2 and inter_layers[0].self_att.att.num_heads == 8
    d, ffn = 256, 256
    per_layer = (4 * d * d + 4 * d) + (2 * d * ffn + ffn + d) + 4 * d  # attention, FFN, two LayerNorms
    layers = 2 * (intra[0] + 2)  # two blocks of intra + inter
    # + per block: intra/inter GroupNorms and each transformer's final LayerNorm; + input norm,
    # conv1d, conv2d, end conv, PReLU, gated output (tanh and sigmoid convs)
    masker = layers * per_layer + 2 * 8 * d + (2 * d + d * d + (d * d + d) + d * d + 1 + 2 * (d * d + d))
    n_params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in model.masker.parameters()) == masker
    assert n_params == 139_080_577 + masker + 2 * 16 * d  # U + masker + E + D
    print(f"{preset}: {n_params / 1e6:.2f} M parameters (masker {masker / 1e6:.2f} M)")


# -- presets and the n_fft-2048 front end -----------------------------------------------------


def test_preset_values():
    pr, nov = PRESETS["pr2838"], PRESETS["nov2024"]
    assert pr["loss"] == {"l_in": 5.0, "l_out": 0.2, "l1": 6.0, "sisnr": 0.0} and pr["alpha"] == 0.75
    assert nov["loss"] == {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "sisnr": 0.0} and nov["alpha"] == 1.0
    assert (pr["arch"].intra_layers, pr["arch"].intra_heads, pr["arch"].d_ffn) == (4, 4, 256)
    assert (nov["arch"].intra_layers, nov["arch"].intra_heads, nov["arch"].d_ffn) == (8, 8, 256)
    assert pr["feature_n_fft"] == 2048 and nov["feature_n_fft"] is None
    assert resolve_arch("pr2838", {"n_filters": 64, "chunk_size": None}) == TDArch(
        n_filters=64, intra_layers=4, intra_heads=4
    )


@pytest.mark.parametrize(
    "scale, message",
    [
        ({"n_filtres": 8}, "unknown setting"),
        ({"n_filters": 10, "intra_heads": 4}, "do not divide"),
        ({"chunk_size": 0}, "positive integer"),
    ],
)
def test_bad_scale_is_a_one_line_error(scale, message):
    with pytest.raises(LmacError, match=message):
        resolve_arch("nov2024", scale)


def test_unknown_preset_and_alpha_are_errors(clf):
    with pytest.raises(LmacError, match="unknown preset"):
        build_lmac_td(clf, TINY_TD_2HEADS, "icassp")
    with pytest.raises(LmacError, match=r"\[0, 1\]"):
        build_lmac_td(clf, TINY_TD_2HEADS, alpha=1.5)


def test_pr2838_feeds_the_classifier_n_fft_2048_features(clf):
    wav = torch.randn(2, SR) * 0.1
    pr = tiny_td(clf, 0.75, "pr2838")
    nov = tiny_td(clf, 1.0, "nov2024")
    assert pr.feature_frontend.cfg.n_fft == 2048 and clf.frontend.cfg.n_fft == 1024
    assert nov.feature_frontend.cfg == clf.frontend.cfg
    wide = FrontEnd(FrontEndConfig(n_fft=2048))
    torch.testing.assert_close(pr.classify(wav)[0], clf.net(wide.features(wav))[0])
    torch.testing.assert_close(nov.classify(wav)[0], clf(wav)[0])
    # same frame count and mel bins, different values: the published mismatch is real
    assert wide.features(wav).shape == clf.frontend.features(wav).shape
    assert not torch.allclose(wide.features(wav), clf.frontend.features(wav), atol=1e-2)
    with torch.no_grad():
        out = pr(wav)
    assert torch.equal(out.target, clf.net(wide.features(wav))[0].argmax(-1))


def test_embedded_default_config_uses_the_embedded_scale():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["lmac_td"]["scale"] == EMBEDDED_SCALE
    assert resolve_arch(config["lmac_td"]["preset"], EMBEDDED_SCALE).n_filters == EMBEDDED_SCALE["n_filters"]


# -- checkpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha, preset", [(0.0, "nov2024"), (0.75, "pr2838")])
def test_save_load_round_trip_gives_identical_outputs(clf, tmp_path, alpha, preset):
    model = tiny_td(clf, alpha, preset)
    path = tmp_path / "td.pt"
    model.save(path, meta={"seed": 3})
    loaded = LmacTDExplainer.load(path, clf)
    assert loaded.config() == model.config()
    assert loaded.config()["arch"]["n_filters"] == 8 and loaded.config()["preset"] == preset
    wav = torch.randn(2, SR) * 0.1
    a, b = model.explain(wav), loaded.explain(wav)
    assert torch.equal(a.waveform, b.waveform) and torch.equal(a.mask, b.mask)
    assert torch.equal(a.masked_out, b.masked_out)


def test_load_rejects_other_kinds_and_widths(clf, tmp_path):
    lmac_path = tmp_path / "lmac.pt"
    LmacExplainer(clf).save(lmac_path)
    with pytest.raises(LmacError, match="'lmac' checkpoint, expected 'lmac_td'"):
        LmacTDExplainer.load(lmac_path, clf)
    td_path = tmp_path / "td.pt"
    tiny_td(clf, 1.0).save(td_path)
    wider = AudioClassifier(["a", "b", "c"], width=0.125)
    with pytest.raises(LmacError, match="width-0.0625 classifier, this classifier has width 0.125"):
        LmacTDExplainer.load(td_path, wider)


def test_pretrained_encoder_decoder_from_a_checkpoint_and_a_speechbrain_folder(clf, tmp_path):
    donor = tiny_td(clf, 0.75, seed=11)
    donor.save(tmp_path / "donor.pt")
    model = tiny_td(clf, 1.0, seed=12)
    model.load_encoder_decoder(tmp_path / "donor.pt", freeze=True)
    assert torch.equal(model.encoder.conv1d.weight, donor.encoder.conv1d.weight)
    assert torch.equal(model.decoder.weight, donor.decoder.weight)
    assert not any(p.requires_grad for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert all(p.requires_grad for p in model.masker.parameters())

    folder = tmp_path / "sepformer"
    folder.mkdir()
    enc_w, dec_w = torch.randn(8, 1, 16), torch.randn(8, 1, 16)
    torch.save({"conv1d.weight": enc_w}, folder / "encoder.ckpt")
    torch.save({"weight": dec_w}, folder / "decoder.ckpt")
    model.load_encoder_decoder(folder, freeze=False)
    assert torch.equal(model.encoder.conv1d.weight, enc_w) and torch.equal(model.decoder.weight, dec_w)
    assert model.encoder.conv1d.weight.requires_grad

    torch.save({"conv1d.weight": torch.randn(16, 1, 16)}, folder / "encoder.ckpt")
    with pytest.raises(LmacError, match=r"encoder weight 'conv1d.weight' has shape \(16, 1, 16\)"):
        model.load_encoder_decoder(folder)
