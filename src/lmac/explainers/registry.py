"""Load any trained explainer from its checkpoint: the checkpoint's ``kind`` picks the class."""

from __future__ import annotations

from ..checkpoints import load_checkpoint
from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .base import Explainer
from .lmac import LmacExplainer

EXPLAINERS = {LmacExplainer.name: LmacExplainer}


def load_explainer(path, classifier: AudioClassifier) -> Explainer:
    kind = load_checkpoint(path)["kind"]
    if kind not in EXPLAINERS:
        raise LmacError(f"{path}: is a '{kind}' checkpoint, not an explainer "
                        f"(expected one of: {', '.join(sorted(EXPLAINERS))})")
    return EXPLAINERS[kind].load(path, classifier)
