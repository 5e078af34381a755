"""A random-weight classifier standing in for a trained one: the tests check plumbing and maths, not what it learned."""

from __future__ import annotations

import torch

from lmac.classifier.model import AudioClassifier

TINY_WIDTH = 0.0625  # CNN14 at 1/16 of its channels: milliseconds per clip on a CPU


def tiny_classifier(classes=("a", "b", "c"), seed: int = 0, **kwargs) -> AudioClassifier:
    """A width-1/16 CNN14 over ``classes`` drawn after ``torch.manual_seed(seed)``, in eval mode."""
    torch.manual_seed(seed)
    return AudioClassifier(list(classes), width=TINY_WIDTH, **kwargs).eval()


# LMAC-TD's masker at its smallest (one dual-path block, one layer and head each way, 8 filters of 16 samples)
TINY_TD = {
    "n_filters": 8,
    "kernel_size": 16,
    "chunk_size": 50,
    "num_blocks": 1,
    "intra_layers": 1,
    "intra_heads": 1,
    "inter_layers": 1,
    "inter_heads": 1,
    "d_ffn": 16,
}
# the same with two attention heads each way (multi-head paths exercised)
TINY_TD_2HEADS = {**TINY_TD, "intra_heads": 2, "inter_heads": 2}


def train_explainer(job_class, config: dict, setup, name: str, **inputs):
    """``job_class`` (an explainer's training job) on the tiny prepared data of ``setup`` and its classifier,
    written to ``setup/name``; ``inputs`` are the job's other files (L2I's dictionary)."""
    from lmac.jobs import Outputs

    out = setup / name
    job_class.from_config(
        config,
        prepared_dir=setup / "prepared",
        outputs=Outputs.in_folder(out),
        classifier_path=str(setup / "classifier.pt"),
        **inputs,
    ).run()
    return out
