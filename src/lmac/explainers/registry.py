"""Every explanation method by name, and how to get a ready :class:`Explainer` for it.

Learned methods (L-MAC, L-MAC FT, LMAC-TD at each α, L2I) come from a trained checkpoint whose
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
    from .l2i import L2IExplainer
    from .lmac_td import LmacTDExplainer

    return {LmacExplainer.name: LmacExplainer, LmacTDExplainer.name: LmacTDExplainer, L2IExplainer.name: L2IExplainer}


def _baselines() -> dict[str, type]:
    from .gradient import BASELINES

    return BASELINES


def td_method(alpha: float) -> str:
    """Method name of LMAC-TD trained with mixing weight ``alpha`` (0.75 → ``lmac_td_a0.75``)."""
    return f"lmac_td_a{float(alpha):g}"


def is_learned(method: str) -> bool:
    return method in ("lmac", "lmac_ft", "l2i") or re.fullmatch(r"lmac_td_a[0-9.]+", method) is not None


def expand_methods(methods: list[str], td_alphas: list[float]) -> list[str]:
    """Config method list → evaluated methods: ``lmac_td`` stands for one method per α."""
    out: list[str] = []
    for method in methods:
        if method == "lmac_td":
            out.extend(td_method(a) for a in td_alphas)
        else:
            out.append(method)
    return out


def checkpoint_method(payload: dict) -> str | None:
    """The method a learned checkpoint holds (``lmac``, ``lmac_ft``, ``lmac_td_a0.75``, ``l2i``), when it records it."""
    config, meta = payload.get("config"), payload.get("meta")
    if payload.get("kind") == "l2i":
        return "l2i"
    if payload.get("kind") == "lmac_td" and isinstance(config, dict):
        alpha = config.get("alpha")
        return td_method(alpha) if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) else None
    if payload.get("kind") == LmacExplainer.name and isinstance(meta, dict):
        return meta.get("method") if meta.get("method") in ("lmac", "lmac_ft") else None
    return None  # an untrained or hand-made file: nothing to compare with


def _check_method(path, method: str, payload: dict) -> None:
    """``method``'s checkpoint must hold that method: checkpoints given in another order than the
    methods (``lmac evaluate --method lmac_ft lmac --explainer lmac.pt ft.pt``) would otherwise
    score one method under the other's name."""
    need = "lmac_td" if method.startswith("lmac_td_a") else method if method == "l2i" else LmacExplainer.name
    if payload["kind"] != need:
        raise LmacError(
            f"{path}: is a '{payload['kind']}' checkpoint, method '{method}' needs an '{need}' one "
            f"(checkpoints go in the order of the learned methods)"
        )
    held = checkpoint_method(payload)
    if held is None or held == method:
        return
    if need == "lmac_td":
        try:
            if float(method[len("lmac_td_a") :]) == float(payload["config"]["alpha"]):
                return
        except ValueError:
            raise LmacError(f"method '{method}': α is not a number (lmac_td_a<α>, e.g. lmac_td_a0.75)") from None
    raise LmacError(f"{path}: holds {held}, not {method} (checkpoints go in the order of the learned methods)")


def load_explainer(path, classifier: AudioClassifier, method: str | None = None) -> Explainer:
    """The explainer in checkpoint ``path``; with ``method``, checked to be that method's."""
    payload = load_checkpoint(path)
    kind = payload["kind"]
    classes = _checkpoint_classes()
    if kind not in classes:
        raise LmacError(
            f"{path}: is a '{kind}' checkpoint, not an explainer (expected one of: {', '.join(sorted(classes))})"
        )
    if method is not None:
        _check_method(path, method, payload)
    return classes[kind].load(path, classifier, payload)


def build_explainer(
    method: str, classifier: AudioClassifier, checkpoint: str | None = None, settings: dict | None = None
) -> Explainer:
    if is_learned(method):
        if checkpoint is None:
            raise LmacError(f"method '{method}' is trained: it needs its checkpoint")
        return load_explainer(checkpoint, classifier, method)
    baselines = _baselines()
    if method not in baselines:
        raise LmacError(
            f"unknown explanation method '{method}' (learned: lmac, lmac_ft, lmac_td_a<α>, l2i; "
            f"baselines: {', '.join(sorted(baselines))})"
        )
    from .gradient import build_baseline

    return build_baseline(method, classifier, settings or {})
