"""A random-weight classifier standing in for a trained one: the tests check plumbing and maths, not what it learned."""

from __future__ import annotations

import torch

from lmac.classifier.model import AudioClassifier

TINY_WIDTH = 0.0625  # CNN14 at 1/16 of its channels: milliseconds per clip on a CPU


def tiny_classifier(classes=("a", "b", "c"), seed: int = 0, **kwargs) -> AudioClassifier:
    """A width-1/16 CNN14 over ``classes`` drawn after ``torch.manual_seed(seed)``, in eval mode."""
    torch.manual_seed(seed)
    return AudioClassifier(list(classes), width=TINY_WIDTH, **kwargs).eval()
