"""Gradient baselines through Captum, as the reference ran them, behind the one Explainer interface.

Attribution domain (reference ``gradient_based.py``): X = log1p|STFT| ([B, T, F]), the grid
L-MAC masks, given to Captum as [B, 1, T, F] (the reference's layout; Guided Grad-CAM upsamples
to ``shape[2:]``). The forward function is f(X) = classifier logits on log1p(Mel(expm1(X))),
``classifier.classify_logspec``, for the class explained (default: the prediction). It clamps X
at 0 first: a log1p magnitude is never negative and expm1 of a negative value would make the
mel input invalid (NaN after log1p); for valid inputs the clamp is the identity and passes the
gradient, so only noisy inputs (Gaussian SmoothGrad) are affected, whose negative bins get zero
gradient. Every map becomes a mask by the shared rule (:mod:`lmac.explainers.attribution_maps`):
|A| ÷ per-clip max, never thresholded.

Methods and their ``baselines.<name>`` settings (defaults are the reference's where known):

- ``saliency``: ``captum.attr.Saliency``, |∂f_c/∂X|. No settings.
- ``ig``: ``IntegratedGradients``, zero baseline (silence), Riemann/Gauss-Legendre ``method``
  (``gausslegendre``, Captum's default), ``n_steps`` = 50 (Captum's default, which the reference
  effectively used: its ``steps=200`` argument is never passed on), ``internal_batch_size`` = 32
  spectrograms per forward pass (the reference: 2; only speed and memory differ).
- ``smoothgrad``: ``n_samples`` = 50 noisy copies, noise σ = ``noise_level`` (0.15) × (max − min)
  of each clip's X. ``noise: half_normal`` (default, the reference): X + |N(0, σ²)| so the input
  stays a valid log magnitude, and the map is the mean of the per-draw saliency maps each ÷ its
  max (the reference's averaging). ``noise: gaussian``: Captum's ``NoiseTunnel`` (smoothgrad) on
  Saliency with X + N(0, σ²), the mean of the raw |gradients|; run per clip because σ is per
  clip, with ``internal_batch_size`` as ``nt_samples_batch_size``. ``internal_batch_size`` = 32
  noisy spectrograms per pass; ``seed`` = 0 (draws seeded per explain() call).
- ``gradcam``: ``LayerGradCam`` on the classifier's last conv block ``conv_block6`` (output
  [B, C6, T/32, n_mels/32]), upsampled to (T, F) with ``LayerAttribution.interpolate``
  (``interpolate_mode`` = ``nearest``, Captum's default). ``relu`` = false as the reference
  (it called ``attribute`` without ``relu_attributions`` and took |·|, so negative evidence
  counts too); ``relu: true`` is textbook Grad-CAM. Note the coarse map's frequency axis is mel
  but is stretched linearly over the STFT bins, as in the reference.
- ``guided_backprop``: ``GuidedBackprop`` (needs the ``nn.ReLU`` modules of
  :mod:`lmac.classifier.cnn14`). No settings.
- ``guided_gradcam``: ``GuidedGradCam`` on ``conv_block6`` (Captum applies ReLU to the CAM),
  ``interpolate_mode`` = ``nearest``.
- ``shap``: ``GradientShap`` with ``n_baselines`` = 3 baselines |N(0, 1)| (the reference's
  "truncated gaussian"), drawn per call; ``n_samples`` = 5 (Captum's default; the reference's
  value is not established), no input noise (``stdevs`` 0, Captum's default); ``internal_batch_size`` = 32
  (Captum has no memory control for GradientShap, issue #1350: samples are split into several
  calls and averaged, the same estimator); ``seed`` = 0.
- ``all_ones``, ``random``: the sanity references of :mod:`lmac.explainers.attribution_maps`.

Memory: saliency, Grad-CAM, Guided Backprop and Guided Grad-CAM run one forward/backward pass
on the caller's batch; IG, SmoothGrad and SHAP expand it (steps × clips, draws × clips), so they
run at most ``internal_batch_size`` spectrograms per pass. At width 1 and 5 s one spectrogram
costs about 0.1 GB of saved activations (peak RSS grew 0.08 GB per clip on CPU), so the default
32 needs a few GB on top of the model; raise it on a large GPU for speed.

Deviations from the reference: batched (the reference explained one clip at a time; the
attributions are per clip either way, except the shared SHAP baseline draw of a batch and the
GradientShap sample split), the input clamp above, and seeded randomness.
"""

from __future__ import annotations

import contextlib
import warnings
from abc import abstractmethod
from collections.abc import Iterator

import torch
from captum.attr import (
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)

from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .attribution_maps import (
    AllOnesExplainer,
    MapExplainer,
    RandomExplainer,
    check_setting,
    positive_int,
    seed_setting,
    seeded,
)
from .base import Explainer

INTERPOLATE_MODES = ("nearest", "bilinear", "bicubic", "area")
IG_METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")
NOISES = ("half_normal", "gaussian")


class LogspecModel(torch.nn.Module):
    """f(Z) = classifier logits for Z = log1p|STFT| as [B, 1, T, F], clamped at 0 (see module doc).

    A module (not a function) holding the classifier as a submodule, so Captum's Guided Backprop
    finds the ReLU modules and layer methods can hook ``conv_block6``.
    """

    def __init__(self, classifier: AudioClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.classifier.classify_logspec(z[:, 0].clamp(min=0))


def last_conv_block(classifier: AudioClassifier) -> torch.nn.Module:
    return classifier.net.embedding_model.conv_block6


class GradientExplainer(MapExplainer):
    """A Captum method on [B, 1, T, F]; subclasses implement :meth:`attribute4d`."""

    def __init__(self, classifier: AudioClassifier):
        super().__init__(classifier)
        self.model = LogspecModel(classifier)

    def attribute(self, logspec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # a leaf that already requires grad: Captum would otherwise set it, warning each call
        return self.attribute4d(logspec[:, None].detach().requires_grad_(), target)[:, 0]

    @abstractmethod
    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Raw map [B, 1, T, F] for x = log1p spectrograms [B, 1, T, F] (a leaf requiring grad)."""


class SaliencyExplainer(GradientExplainer):
    name = "saliency"

    def __init__(self, classifier: AudioClassifier):
        super().__init__(classifier)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return Saliency(self.model).attribute(x, target=target, abs=True)


class IntegratedGradientsExplainer(GradientExplainer):
    name = "ig"

    def __init__(
        self,
        classifier: AudioClassifier,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int = 32,
    ):
        super().__init__(classifier)
        self.n_steps = positive_int(self.name, "n_steps", n_steps)
        check_setting(method in IG_METHODS, self.name, "method", method, " or ".join(IG_METHODS))
        self.method = method
        self.internal_batch_size = positive_int(self.name, "internal_batch_size", internal_batch_size)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return IntegratedGradients(self.model).attribute(
            x,
            baselines=torch.zeros_like(x),
            target=target,
            n_steps=self.n_steps,
            method=self.method,
            internal_batch_size=max(self.internal_batch_size, x.shape[0]),
        )


class SampledExplainer(GradientExplainer):
    """A method averaging ``n_samples`` noisy passes, run ``internal_batch_size`` inputs at a time."""

    # the subclasses pass internal_batch_size and seed through (``**run``)
    def __init__(self, classifier: AudioClassifier, n_samples: int, internal_batch_size: int = 32, seed: int = 0):
        super().__init__(classifier)
        self.n_samples = positive_int(self.name, "n_samples", n_samples)
        self.internal_batch_size = positive_int(self.name, "internal_batch_size", internal_batch_size)
        self.seed = seed_setting(self.name, seed)

    def passes(self, batch: int) -> Iterator[int]:
        """Samples per pass for a batch of ``batch`` clips; they add up to ``n_samples``."""
        per_pass = max(1, self.internal_batch_size // batch)
        for done in range(0, self.n_samples, per_pass):
            yield min(per_pass, self.n_samples - done)


class SmoothGradExplainer(SampledExplainer):
    name = "smoothgrad"

    def __init__(
        self,
        classifier: AudioClassifier,
        n_samples: int = 50,
        noise_level: float = 0.15,
        noise: str = "half_normal",
        **run,
    ):
        super().__init__(classifier, n_samples, **run)
        check_setting(
            isinstance(noise_level, (int, float)) and not isinstance(noise_level, bool) and noise_level > 0,
            self.name,
            "noise_level",
            noise_level,
            "a number > 0",
        )
        self.noise_level = float(noise_level)
        check_setting(noise in NOISES, self.name, "noise", noise, " or ".join(NOISES))
        self.noise = noise

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        flat = x.detach().flatten(1)
        sigma = self.noise_level * (flat.amax(1) - flat.amin(1))  # per clip, as the reference
        with seeded(self.seed, self.calls, x.device):
            if self.noise == "gaussian":
                return self._noise_tunnel(x, target, sigma)
            return self._half_normal(x, target, sigma)

    def _half_normal(self, x: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        total = torch.zeros_like(x)
        saliency = Saliency(self.model)
        for k in self.passes(b):
            noisy = x.detach().repeat(k, 1, 1, 1)
            noisy = (noisy + sigma.repeat(k).view(-1, 1, 1, 1) * torch.randn_like(noisy).abs()).requires_grad_()
            maps = saliency.attribute(noisy, target=target.repeat(k), abs=True)
            peak = maps.flatten(1).amax(1).clamp(min=torch.finfo(maps.dtype).tiny).view(-1, 1, 1, 1)
            total += (maps / peak).view(k, b, *x.shape[1:]).sum(0)
        return total / self.n_samples

    def _noise_tunnel(self, x: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        tunnel = NoiseTunnel(Saliency(self.model))
        return torch.cat(
            [
                tunnel.attribute(
                    x[i : i + 1],
                    nt_type="smoothgrad",
                    nt_samples=self.n_samples,
                    nt_samples_batch_size=self.internal_batch_size,
                    stdevs=float(sigma[i]),
                    target=target[i : i + 1],
                    abs=True,
                )
                for i in range(x.shape[0])
            ]
        )


def _interpolate_mode(name: str, mode: str) -> str:
    """How a coarse layer map is upsampled to the spectrogram grid, checked."""
    check_setting(mode in INTERPOLATE_MODES, name, "interpolate_mode", mode, " or ".join(INTERPOLATE_MODES))
    return mode


class GradCamExplainer(GradientExplainer):
    name = "gradcam"

    def __init__(self, classifier: AudioClassifier, relu: bool = False, interpolate_mode: str = "nearest"):
        super().__init__(classifier)
        check_setting(isinstance(relu, bool), self.name, "relu", relu, "true or false")
        self.relu, self.interpolate_mode = relu, _interpolate_mode(self.name, interpolate_mode)

    def coarse(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The Grad-CAM map on conv_block6's grid, [B, 1, T/32, n_mels/32]."""
        cam = LayerGradCam(self.model, last_conv_block(self.classifier))
        return cam.attribute(x, target=target, relu_attributions=self.relu)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return LayerAttribution.interpolate(
            self.coarse(x, target), tuple(x.shape[2:]), interpolate_mode=self.interpolate_mode
        )


@contextlib.contextmanager
def _quiet_relu_hooks() -> Iterator[None]:
    # Captum warns on every call that it sets (and afterwards removes) hooks on the ReLU modules
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        yield


class GuidedBackpropExplainer(GradientExplainer):
    name = "guided_backprop"

    def __init__(self, classifier: AudioClassifier):
        super().__init__(classifier)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with _quiet_relu_hooks():
            return GuidedBackprop(self.model).attribute(x, target=target)


class GuidedGradCamExplainer(GradientExplainer):
    name = "guided_gradcam"

    def __init__(self, classifier: AudioClassifier, interpolate_mode: str = "nearest"):
        super().__init__(classifier)
        self.interpolate_mode = _interpolate_mode(self.name, interpolate_mode)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        method = GuidedGradCam(self.model, last_conv_block(self.classifier))
        with _quiet_relu_hooks():
            return method.attribute(x, target=target, interpolate_mode=self.interpolate_mode)


class GradientShapExplainer(SampledExplainer):
    name = "shap"

    def __init__(self, classifier: AudioClassifier, n_baselines: int = 3, n_samples: int = 5, **run):
        super().__init__(classifier, n_samples, **run)
        self.n_baselines = positive_int(self.name, "n_baselines", n_baselines)

    def attribute4d(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shap = GradientShap(self.model)
        total = torch.zeros_like(x)
        with seeded(self.seed, self.calls, x.device):
            baselines = torch.randn((self.n_baselines, *x.shape[1:]), device=x.device, dtype=x.dtype).abs()
            for k in self.passes(x.shape[0]):
                total += k * shap.attribute(x, baselines=baselines, n_samples=k, stdevs=0.0, target=target)
        return total / self.n_samples


BASELINES: dict[str, type[MapExplainer]] = {
    cls.name: cls
    for cls in (
        SaliencyExplainer,
        IntegratedGradientsExplainer,
        SmoothGradExplainer,
        GradCamExplainer,
        GuidedBackpropExplainer,
        GuidedGradCamExplainer,
        GradientShapExplainer,
        AllOnesExplainer,
        RandomExplainer,
    )
}


def build_baseline(name: str, classifier: AudioClassifier, settings: dict | None = None) -> Explainer:
    """The baseline ``name`` for ``classifier`` with ``settings`` (the ``baselines.<name>`` config)."""
    if name not in BASELINES:
        raise LmacError(f"unknown baseline '{name}' (one of: {', '.join(BASELINES)})")
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise LmacError(f"baselines.{name}: expected a mapping of settings, got {settings!r}")
    cls = BASELINES[name]
    known = cls.settings()
    for key in settings:
        if key not in known:
            raise LmacError(
                f"baselines.{name}: unknown setting '{key}' (known: {', '.join(known) if known else 'none'})"
            )
    return cls(classifier, **settings)
