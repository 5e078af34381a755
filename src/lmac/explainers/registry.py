"""Every explanation method by name, and how to get a ready :class:`Explainer` for it.

Learned methods (L-MAC, L-MAC FT, LMAC-TD at each α) come from a trained checkpoint whose
``kind`` picks the class; baselines (gradient methods and sanity references) are built from
their settings. Evaluation and ``lmac explain`` go through :func:`build_explainer` /
:func:`load_explainer` only, so they never branch on the method.
"""

from __future__ import annotations

import re

from ..checkpoints import load_checkpoint
from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .base import Explainer
from .lmac import LmacExplainer


def _checkpoint_classes() -> dict[str, type]:
    from .lmac_td import LmacTDExplainer
    return {LmacExplainer.name: LmacExplainer, LmacTDExplainer.name: LmacTDExplainer}


def _baselines() -> dict[str, type]:
    from .gradient import BASELINES
    return BASELINES


def td_method(alpha: float) -> str:
    """Method name of LMAC-TD trained with mixing weight ``alpha`` (0.75 → ``lmac_td_a0.75``)."""
    return f"lmac_td_a{float(alpha):g}"


def is_learned(method: str) -> bool:
    return method in ("lmac", "lmac_ft") or re.fullmatch(r"lmac_td_a[0-9.]+", method) is not None


def expand_methods(methods: list[str], td_alphas: list[float]) -> list[str]:
    """Config method list → evaluated methods: ``lmac_td`` stands for one method per α."""
    out: list[str] = []
    for method in methods:
        if method == "lmac_td":
            out.extend(td_method(a) for a in td_alphas)
        else:
            out.append(method)
    return out


def load_explainer(path, classifier: AudioClassifier) -> Explainer:
    kind = load_checkpoint(path)["kind"]
    classes = _checkpoint_classes()
    if kind not in classes:
        raise LmacError(f"{path}: is a '{kind}' checkpoint, not an explainer "
                        f"(expected one of: {', '.join(sorted(classes))})")
    return classes[kind].load(path, classifier)


def build_explainer(method: str, classifier: AudioClassifier, checkpoint: str | None = None,
                    settings: dict | None = None) -> Explainer:
    if is_learned(method):
        if checkpoint is None:
            raise LmacError(f"method '{method}' is trained: it needs its checkpoint")
        return load_explainer(checkpoint, classifier)
    baselines = _baselines()
    if method not in baselines:
        raise LmacError(f"unknown explanation method '{method}' (learned: lmac, lmac_ft, lmac_td_a<α>; "
                        f"baselines: {', '.join(sorted(baselines))})")
    from .gradient import build_baseline
    return build_baseline(method, classifier, settings or {})
