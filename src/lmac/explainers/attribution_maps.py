"""Attribution maps as explanations: the one rule that turns a map into a mask, and two sanity references.

Every baseline (the gradient methods in :mod:`lmac.explainers.gradient` and the references here)
produces a map A on the classifier's log1p|STFT| grid and becomes an :class:`Explanation` by
the reference's rule (``gradient_based.py``): M = |A| ÷ max|A| per clip, used directly as a soft
mask, never thresholded. An all-zero map gives an all-zero mask (not NaN). Then, as for L-MAC,
masked-in M⊙X, masked-out (1−M)⊙X on X = log1p|STFT|, and the listenable explanation is
``frontend.resynthesise(M⊙X, wav)`` (masked log1p magnitude with the input's phase).

Sanity references (settings in brackets):

- ``all_ones`` (none): M = 1, the reference's ``allones``. Masked-in is the input itself, so
  AI = AD = AG = 0 and FidIn = 1; masked-out is silence.
- ``random`` (``seed`` = 0): M = U(0, 1) ÷ its per-clip max. Draws are reproducible: call k of
  an explainer uses the seed (seed, k), so a run that explains the same batches in the same
  order gets the same masks.

Baselines explain a *frozen* classifier: the constructor puts it in eval mode and turns off its
parameters' gradients (``load_classifier`` already does both); explaining never changes it.
"""

from __future__ import annotations

import contextlib
import inspect
from abc import abstractmethod
from collections.abc import Iterator

import numpy as np
import torch

from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .base import Explainer, Explanation


def normalise_map(attribution: torch.Tensor) -> torch.Tensor:
    """|A| ÷ its per-clip max ([B, ...] → same shape, in [0, 1]); an all-zero map stays zero."""
    a = attribution.abs()
    peak = a.flatten(1).amax(1).view(-1, *([1] * (a.dim() - 1)))
    return torch.where(peak > 0, a / torch.where(peak > 0, peak, torch.ones_like(peak)), torch.zeros_like(a))


def explanation_from_mask(
    classifier: AudioClassifier, wav: torch.Tensor, logspec: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
) -> Explanation:
    """The common Explanation of a mask on the log1p spectrogram (mask-in/out and resynthesis)."""
    with torch.no_grad():
        masked_in = mask * logspec
        masked_out = (1 - mask) * logspec
        waveform = classifier.frontend.resynthesise(masked_in, wav)
    return Explanation(logspec, mask, masked_in, masked_out, target, waveform)


@contextlib.contextmanager
def seeded(seed: int, call: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's (CPU and ``device``'s) and NumPy's global RNGs seeded from (seed, call).

    Captum draws GradientShap's baselines and interpolation points with NumPy's global RNG and its
    noise with torch's, so reproducible attributions need the global generators; the previous
    states are restored afterwards so callers' random streams are untouched.
    """
    state = np.random.SeedSequence([int(seed), int(call)]).generate_state(2, dtype=np.uint32)
    np_state = np.random.get_state()
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(int(state[0]))
            for index in cuda:
                torch.cuda.default_generators[index].manual_seed(int(state[0]))
            np.random.seed(int(state[1]))
            yield
    finally:
        np.random.set_state(np_state)


def check_setting(ok: bool, method: str, key: str, value: object, expected: str) -> None:
    """One-line :class:`LmacError` naming ``baselines.<method>.<key>`` unless ``ok``."""
    if not ok:
        raise LmacError(f"baselines.{method}.{key}: expected {expected}, got {value!r}")


def positive_int(method: str, key: str, value: object) -> int:
    check_setting(
        isinstance(value, int) and not isinstance(value, bool) and value > 0, method, key, value, "a positive integer"
    )
    return int(value)


def seed_setting(method: str, value: object) -> int:
    check_setting(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        method,
        "seed",
        value,
        "a non-negative integer",
    )
    return int(value)


class MapExplainer(Explainer):
    """An explainer whose mask is a normalised map on the log1p spectrogram; subclasses give the map."""

    name = "map"

    def __init__(self, classifier: AudioClassifier):
        classifier.requires_grad_(False).eval()
        self.classifier = classifier
        self.calls = 0  # explain() calls so far: the per-call seed of random methods

    @classmethod
    def setting_parameters(cls) -> dict[str, inspect.Parameter]:
        """The keyword settings the constructor accepts (the ``baselines.<name>`` keys), with their defaults; a
        constructor that passes ``**kwargs`` on to its base's accepts the base's too."""
        named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        found: dict[str, inspect.Parameter] = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            params = list(inspect.signature(klass.__init__).parameters.values())[2:]
            found.update({p.name: p for p in params if p.kind in named and p.name not in found})
            if all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in params):
                break
        return found

    @classmethod
    def settings(cls) -> tuple[str, ...]:
        """Names of the keyword settings the constructor accepts."""
        return tuple(cls.setting_parameters())

    @abstractmethod
    def attribute(self, logspec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Raw (signed, unnormalised) map [B, T, F] for log1p spectrograms [B, T, F] and classes [B]."""

    def explain(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        clf = self.classifier
        # inference_mode(False)+clone: a caller's inference tensors cannot enter autograd
        with torch.inference_mode(False), torch.no_grad():
            wav = wav.clone()
            logspec = clf.frontend.log_spectrogram(wav)
            if target is None:
                target = clf.classify_logspec(logspec).argmax(-1)
            target = target.to(logspec.device).long().clone()
        with torch.inference_mode(False), torch.enable_grad():
            attribution = self.attribute(logspec.detach().clone(), target)
        self.calls += 1
        mask = normalise_map(attribution.detach()).to(logspec.dtype)
        return explanation_from_mask(clf, wav, logspec, mask, target)


class AllOnesExplainer(MapExplainer):
    """M = 1 (the reference's ``allones``): keeps everything, a floor/ceiling for the metrics."""

    name = "all_ones"
    class_conditional = False

    def __init__(self, classifier: AudioClassifier):
        super().__init__(classifier)

    def attribute(self, logspec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(logspec)


class RandomExplainer(MapExplainer):
    """M = U(0, 1) ÷ max, seeded: what a map carrying no information about the classifier scores."""

    name = "random"
    class_conditional = False

    def __init__(self, classifier: AudioClassifier, seed: int = 0):
        super().__init__(classifier)
        self.seed = seed_setting(self.name, seed)

    def attribute(self, logspec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with seeded(self.seed, self.calls, logspec.device):
            return torch.rand(logspec.shape, device=logspec.device, dtype=logspec.dtype)
