"""Randomising the classifier block by block: cascading re-initialisation (the model-randomisation check;
the data-randomisation check trains on permuted labels, `lmac.classifier.train.permute_labels`).

Cascading model-parameter randomisation (Adebayo et al. 2018) re-initialises the network top
down, one block per step, keeping earlier steps' randomisation: step 0 is the trained
classifier, step 1 re-initialises the linear head, steps 2 … 7 additionally conv blocks 6 … 1
of CNN14 (the paper-era ``mrt_evaluator.py`` randomised blocks 6 → 1 the same way). The input
BatchNorm ``norm0`` is never re-initialised (it is a per-mel-bin standardisation, not a block).

A block is re-initialised with the module's own initialisation, as a freshly built network
would have it: every submodule's ``reset_parameters`` (which also resets BatchNorm running
statistics to mean 0, variance 1), then the block's ``init_weight`` where it has one (CNN14's
Xavier-uniform convolutions and unit BatchNorm scale). Draws are seeded by (seed, step) on the
CPU, so a step's network is the same on every device and in every process that asks for it.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..classifier.model import AudioClassifier, load_classifier
from ..errors import LmacError

#: names of the randomised blocks in cascade order (step k re-initialises the first k)
BLOCKS = ("head", "conv_block6", "conv_block5", "conv_block4", "conv_block3", "conv_block2", "conv_block1")
N_STEPS = len(BLOCKS)


def block_name(step: int) -> str:
    """The deepest block randomised at ``step`` (``none`` for the trained classifier)."""
    check_step(step)
    return "none" if step == 0 else BLOCKS[step - 1]


def check_step(step: int) -> None:
    if not (isinstance(step, (int, np.integer)) and 0 <= step <= N_STEPS):
        raise LmacError(f"cascading randomisation step must be an integer in 0..{N_STEPS}, got {step!r}")


def block(classifier: AudioClassifier, name: str) -> torch.nn.Module:
    if name == "head":
        return classifier.net.classifier
    if name not in BLOCKS:
        raise LmacError(f"unknown classifier block '{name}' (one of: {', '.join(BLOCKS)})")
    return getattr(classifier.net.embedding_model, name)


def _draw_seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1, dtype=np.uint32)[0])


def reinitialise(module: torch.nn.Module, seed: int) -> None:
    """Re-initialise ``module`` in place with its own initialisation, drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            if hasattr(sub, "reset_parameters"):
                sub.reset_parameters()
        if hasattr(module, "init_weight"):
            module.init_weight()


def randomised_classifier(classifier: AudioClassifier, step: int, seed: int) -> AudioClassifier:
    """A copy of ``classifier`` with the top ``step`` blocks re-initialised (frozen, eval mode).

    The copy is randomised on the CPU and moved back to the classifier's device.
    """
    check_step(step)
    device = next(classifier.parameters()).device
    model = copy.deepcopy(classifier).cpu()
    for k in range(1, step + 1):
        reinitialise(block(model, BLOCKS[k - 1]), _draw_seed(seed, k))
    model.requires_grad_(False)
    return model.to(device).eval()


def write_randomised_classifier(classifier_path: str, step: int, seed: int, out_model: str) -> None:
    """Save the cascading step's classifier as an lmac classifier checkpoint (decoders train on it)."""
    model = randomised_classifier(load_classifier(classifier_path, "cpu"), step, seed)
    model.save(
        out_model,
        meta={
            "randomised_step": step,
            "randomised_block": block_name(step),
            "seed": seed,
            "source": str(classifier_path),
        },
    )
