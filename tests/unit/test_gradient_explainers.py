"""The gradient baselines and sanity references behind the one Explainer interface, on a tiny CNN14."""

import captum.attr
import pytest
import torch
from model_fixture import tiny_classifier

from lmac.errors import LmacError
from lmac.explainers.attribution_maps import normalise_map
from lmac.explainers.base import Explanation
from lmac.explainers.gradient import (
    BASELINES,
    GradCamExplainer,
    GuidedBackpropExplainer,
    GuidedGradCamExplainer,
    IntegratedGradientsExplainer,
    LogspecModel,
    SaliencyExplainer,
    SmoothGradExplainer,
    build_baseline,
)

# small sample/step counts keep the tests fast; the defaults are exercised in test_defaults_*
FAST = {"ig": {"n_steps": 8}, "smoothgrad": {"n_samples": 4}, "shap": {"n_samples": 4}}
CASES = [(name, FAST.get(name, {})) for name in BASELINES] + [
    ("smoothgrad", {"n_samples": 4, "noise": "gaussian", "internal_batch_size": 3})
]


@pytest.fixture(scope="module")
def wav():
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(16000) / 16000  # 1 s: 87 frames, a 2 × 2 grid at conv_block6
    return torch.stack(
        [
            0.5 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(16000, generator=gen),
            0.3 * torch.randn(16000, generator=gen),
        ]
    )


def _cam(clf, wav, target):
    x = clf.frontend.log_spectrogram(wav)[:, None].requires_grad_()
    return GradCamExplainer(clf, relu=True).coarse(x, target).detach()


@pytest.fixture(scope="module")
def targets(clf, wav):
    """Per clip, the class with the most positive Grad-CAM evidence, so Guided Grad-CAM is not all zero."""
    cams = torch.stack([_cam(clf, wav, torch.full((2,), k)).flatten(1).amax(1) for k in range(3)], 1)
    assert torch.all(cams.amax(1) > 0)
    return cams.argmax(1)


def _params(clf):
    return {k: v.clone() for k, v in clf.state_dict().items()}


@pytest.mark.parametrize("name,settings", CASES, ids=[f"{n}-{s.get('noise', '')}" for n, s in CASES])
def test_every_baseline_gives_a_valid_explanation(clf, wav, targets, name, settings):
    before = _params(clf)
    explainer = build_baseline(name, clf, settings)
    with torch.no_grad():  # as evaluation calls it: gradients must still flow inside
        exp = explainer.explain(wav, targets)
    assert isinstance(exp, Explanation)
    logspec = clf.frontend.log_spectrogram(wav)
    assert exp.mask.shape == logspec.shape == (2, clf.frontend.cfg.n_frames(16000), 513)
    assert torch.isfinite(exp.mask).all()
    assert exp.mask.min() >= 0 and exp.mask.max() <= 1
    torch.testing.assert_close(exp.mask.flatten(1).amax(1), torch.ones(2))  # per-clip max 1
    torch.testing.assert_close(exp.logspec, logspec)
    torch.testing.assert_close(exp.masked_in, exp.mask * logspec)
    torch.testing.assert_close(exp.masked_out, (1 - exp.mask) * logspec)
    assert exp.waveform.shape == wav.shape and torch.isfinite(exp.waveform).all()
    assert torch.equal(exp.target, targets)
    # the classifier is untouched: same weights and BN statistics, frozen, in eval mode
    for key, value in clf.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not any(p.requires_grad for p in clf.parameters())
    assert not clf.training


def test_default_target_is_the_prediction(clf, wav):
    exp = SaliencyExplainer(clf).explain(wav)
    with torch.no_grad():
        assert torch.equal(exp.target, clf(wav)[0].argmax(-1))


def test_constructor_freezes_a_trainable_classifier(wav):
    model = tiny_classifier(["a", "b"], seed=1).train()
    exp = SaliencyExplainer(model).explain(wav)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert torch.isfinite(exp.mask).all()


def test_works_for_inference_mode_inputs(clf, wav):
    with torch.inference_mode():
        x = wav.clone()
        exp = SaliencyExplainer(clf).explain(x)
    assert exp.mask.flatten(1).amax(1).tolist() == [1.0, 1.0]


def test_saliency_is_the_absolute_input_gradient_of_the_target_logit(clf, wav, targets):
    x = clf.frontend.log_spectrogram(wav).requires_grad_()
    logits = clf.classify_logspec(x)
    logits.gather(1, targets[:, None]).sum().backward()
    torch.testing.assert_close(SaliencyExplainer(clf).attribute(x.detach(), targets), x.grad.abs())


def test_integrated_gradients_completeness(clf, wav, targets):
    # Σ attributions ≈ f_c(X) − f_c(0) on the straight path from silence (zero baseline)
    x = clf.frontend.log_spectrogram(wav)
    with torch.no_grad():
        gap = (clf.classify_logspec(x) - clf.classify_logspec(torch.zeros_like(x))).gather(1, targets[:, None])[:, 0]
    assert torch.all(gap.abs() > 1e-5)
    attribution = IntegratedGradientsExplainer(clf).attribute(x, targets)  # default 50 steps
    torch.testing.assert_close(attribution.sum((1, 2)), gap, rtol=1e-2, atol=0)


def test_integrated_gradients_does_not_depend_on_internal_batching(clf, wav, targets):
    x = clf.frontend.log_spectrogram(wav)
    small = IntegratedGradientsExplainer(clf, n_steps=6, internal_batch_size=2).attribute(x, targets)
    large = IntegratedGradientsExplainer(clf, n_steps=6, internal_batch_size=64).attribute(x, targets)
    torch.testing.assert_close(small, large, rtol=1e-4, atol=1e-9)


def test_gradcam_map_is_non_trivial_and_upsampled_from_conv_block6(clf, wav, targets):
    explainer = GradCamExplainer(clf)
    x = clf.frontend.log_spectrogram(wav)[:, None].requires_grad_()
    coarse = explainer.coarse(x, targets).detach()
    assert coarse.shape == (2, 1, 2, 2)  # 87 frames / 32, 80 mels / 32
    assert torch.all(coarse.flatten(1).std(1) > 0)
    mask = explainer.explain(wav, targets).mask
    assert torch.all(mask.flatten(1).std(1) > 0.05)
    # nearest upsampling of |CAM| ÷ max, with the reference's abs (no ReLU)
    expected = normalise_map(torch.nn.functional.interpolate(coarse, size=mask.shape[1:], mode="nearest")[:, 0])
    torch.testing.assert_close(mask, expected)


def test_guided_backprop_overrides_relu_gradients(clf, wav, targets):
    # if CNN14's ReLUs were functional, Captum's hooks would not attach and this would equal the gradient
    x = clf.frontend.log_spectrogram(wav)
    guided = GuidedBackpropExplainer(clf).attribute(x, targets)
    plain = captum.attr.Saliency(LogspecModel(clf)).attribute(
        x[:, None].clone().requires_grad_(), target=targets, abs=False
    )[:, 0]
    assert not torch.allclose(guided, plain, rtol=1e-2, atol=0)
    # and the hooks are gone afterwards: a plain backward is unchanged
    again = captum.attr.Saliency(LogspecModel(clf)).attribute(
        x[:, None].clone().requires_grad_(), target=targets, abs=False
    )[:, 0]
    torch.testing.assert_close(again, plain)


def test_guided_gradcam_with_only_negative_evidence_is_an_all_zero_mask(clf, wav):
    # Captum's Guided Grad-CAM applies ReLU to the CAM: a class without positive evidence gets M = 0
    peaks = torch.stack([_cam(clf, wav, torch.full((2,), k)).flatten(1).amax(1) for k in range(3)], 1)
    clip, cls = (peaks == 0).nonzero()[0].tolist()
    target = torch.full((2,), cls)
    exp = GuidedGradCamExplainer(clf).explain(wav, target)
    assert torch.all(exp.mask[clip] == 0) and torch.isfinite(exp.mask).all()
    torch.testing.assert_close(exp.masked_out[clip], exp.logspec[clip])


def test_normalise_map_rule():
    a = torch.tensor([[[-2.0, 1.0], [0.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]])
    torch.testing.assert_close(normalise_map(a), torch.tensor([[[1.0, 0.5], [0.0, 0.25]], [[0.0, 0.0], [0.0, 0.0]]]))


@pytest.mark.parametrize("name", ["smoothgrad", "shap", "random"])
def test_random_methods_are_seeded_and_leave_global_rngs_alone(clf, wav, targets, name):
    settings = {**FAST.get(name, {}), "seed": 3}
    first = build_baseline(name, clf, settings)
    torch.manual_seed(123)
    a = first.explain(wav, targets).mask
    after = torch.rand(1)
    torch.manual_seed(123)
    torch.testing.assert_close(torch.rand(1), after)  # the caller's stream did not move
    b = build_baseline(name, clf, settings).explain(wav, targets).mask
    torch.testing.assert_close(a, b)  # same seed, same call → same mask
    c = first.explain(wav, targets).mask  # next call draws anew
    other = build_baseline(name, clf, {**settings, "seed": 4}).explain(wav, targets).mask
    assert not torch.equal(a, c) and not torch.equal(a, other)


def test_half_normal_smoothgrad_averages_max_normalised_draws(clf, wav, targets):
    explainer = SmoothGradExplainer(clf, n_samples=3, internal_batch_size=2)  # one draw per pass
    x = clf.frontend.log_spectrogram(wav)
    mean_of_maps = explainer.attribute(x, targets)
    assert torch.all(mean_of_maps >= 0)
    # each draw's map has max 1, so their mean is at most 1 and positive somewhere
    assert torch.all(mean_of_maps.flatten(1).amax(1) <= 1 + 1e-6)
    assert torch.all(mean_of_maps.flatten(1).amax(1) > 0.3)


def test_defaults_match_the_reference():
    assert BASELINES["ig"](tiny_classifier(["a"])).n_steps == 50
    sg = SmoothGradExplainer(tiny_classifier(["a"]))
    assert (sg.n_samples, sg.noise_level, sg.noise) == (50, 0.15, "half_normal")
    shap = BASELINES["shap"](tiny_classifier(["a"]))
    assert (shap.n_baselines, shap.n_samples) == (3, 5)
    assert GradCamExplainer(tiny_classifier(["a"])).relu is False


def test_all_ones_keeps_the_input(clf, wav):
    exp = build_baseline("all_ones", clf, {}).explain(wav)
    assert torch.all(exp.mask == 1) and torch.all(exp.masked_out == 0)
    torch.testing.assert_close(exp.waveform, wav, atol=1e-4, rtol=0)


def test_baseline_names():
    assert set(BASELINES) == {
        "saliency",
        "ig",
        "smoothgrad",
        "gradcam",
        "guided_backprop",
        "guided_gradcam",
        "shap",
        "all_ones",
        "random",
    }
    assert all(cls.name == name for name, cls in BASELINES.items())


@pytest.mark.parametrize(
    "name,settings,message",
    [
        ("occlusion", {}, "unknown baseline 'occlusion'"),
        ("ig", {"steps": 10}, "baselines.ig: unknown setting 'steps' (known: n_steps, method, internal_batch_size)"),
        ("saliency", {"abs": True}, "baselines.saliency: unknown setting 'abs' (known: none)"),
        ("ig", {"n_steps": 0}, "baselines.ig.n_steps: expected a positive integer, got 0"),
        ("smoothgrad", {"noise": "pink"}, "baselines.smoothgrad.noise: expected half_normal or gaussian, got 'pink'"),
        ("gradcam", {"relu": "yes"}, "baselines.gradcam.relu: expected true or false, got 'yes'"),
        ("random", {"seed": -1}, "baselines.random.seed: expected a non-negative integer, got -1"),
        ("shap", [1], "baselines.shap: expected a mapping of settings"),
    ],
)
def test_bad_names_and_settings_are_one_line_errors(clf, name, settings, message):
    with pytest.raises(LmacError) as err:
        build_baseline(name, clf, settings)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_registry_builds_baselines(clf):
    from lmac.explainers.registry import build_explainer

    explainer = build_explainer("ig", clf, settings={"n_steps": 7})
    assert isinstance(explainer, IntegratedGradientsExplainer) and explainer.n_steps == 7


def test_config_schema_and_default_config_match_the_constructors():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    props = schema["properties"]["baselines"]["properties"]
    assert set(props) == set(BASELINES)
    assert set(BASELINES) <= set(schema["properties"]["evaluation"]["properties"]["methods"]["items"]["enum"])
    for name, cls in BASELINES.items():
        params = cls.setting_parameters()
        keys = props[name].get("properties", {})
        assert set(keys) == set(cls.settings()), name
        for key, spec in keys.items():
            assert spec["default"] == params[key].default, f"{name}.{key}"
        # the embedded default may use cheaper counts (documented there), but only known settings
        # of the constructor's type
        given = config.get("baselines", {}).get(name, {})
        for key, value in given.items():
            assert key in params and isinstance(value, type(params[key].default)), (
                f"config/config.yaml baselines.{name}.{key}"
            )
