"""Cascading re-initialisation of the classifier and label permutation: what changes, and seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixture import tiny_classifier

from lmac.classifier.model import AudioClassifier, load_classifier
from lmac.classifier.train import permute_labels
from lmac.errors import LmacError
from lmac.sanity.randomise import BLOCKS, N_STEPS, block_name, randomised_classifier, write_randomised_classifier


@pytest.fixture(scope="module")
def trained() -> AudioClassifier:
    model = tiny_classifier()
    # stand-in for training: weights and BatchNorm statistics away from their initial values
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not name.startswith("frontend"):
                tensor.add_(torch.randn_like(tensor) * 0.1 + 0.3)
    return model.requires_grad_(False).eval()


def _prefix(block: str) -> str:
    return "net.classifier." if block == "head" else f"net.embedding_model.{block}."


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_step_one_changes_only_the_head(trained):
    before = trained.state_dict()
    after = randomised_classifier(trained, 1, seed=7).state_dict()
    changed = _changed(before, after)
    assert changed == {"net.classifier.weight", "net.classifier.bias"}


@pytest.mark.parametrize("step", range(N_STEPS + 1))
def test_each_step_randomises_exactly_the_top_blocks(trained, step):
    before = trained.state_dict()
    after = randomised_classifier(trained, step, seed=7).state_dict()
    changed = _changed(before, after)
    randomised = BLOCKS[:step]
    for key in before:
        inside = any(key.startswith(_prefix(b)) for b in randomised)
        if key.endswith("num_batches_tracked"):
            continue  # a counter, reset to 0 with the statistics
        assert (key in changed) == inside, key
    assert not any(k.startswith(("net.embedding_model.norm0", "frontend")) for k in changed)


def test_a_randomised_block_has_its_fresh_initialisation(trained):
    model = randomised_classifier(trained, 2, seed=7)
    block6 = model.net.embedding_model.conv_block6
    # CNN14's own init: BatchNorm scale 1, shift 0, running statistics of a new module
    for norm in (block6.norm1, block6.norm2):
        assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
        assert torch.all(norm.running_mean == 0) and torch.all(norm.running_var == 1)
    # Xavier-uniform bound for the 3x3 convolution
    fan_in, fan_out = (block6.conv1.weight.shape[1] * 9, block6.conv1.weight.shape[0] * 9)
    assert block6.conv1.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5


def test_randomisation_is_seeded_cumulative_and_leaves_the_original(trained):
    original = {k: v.clone() for k, v in trained.state_dict().items()}
    a = randomised_classifier(trained, 3, seed=11).state_dict()
    b = randomised_classifier(trained, 3, seed=11).state_dict()
    c = randomised_classifier(trained, 3, seed=12).state_dict()
    assert not _changed(a, b)
    assert "net.classifier.weight" in _changed(a, c)
    # step 4 keeps step 3's draws for the head and blocks 6 and 5 and adds block 4
    d = randomised_classifier(trained, 4, seed=11).state_dict()
    assert {k.split(".")[2] if k.startswith("net.embedding_model") else k for k in _changed(a, d)} == {"conv_block4"}
    assert not _changed(original, trained.state_dict())
    assert not _changed(a, randomised_classifier(trained, 3, seed=11).state_dict())  # global RNG untouched


def test_randomised_classifier_is_frozen_and_still_classifies(trained):
    model = randomised_classifier(trained, N_STEPS, seed=1)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    logits, _ = model(torch.randn(2, 16000))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


def test_written_checkpoint_is_the_same_network(trained, tmp_path):
    trained.save(tmp_path / "clf.pt")
    write_randomised_classifier(str(tmp_path / "clf.pt"), 5, 3, str(tmp_path / "step5.pt"))
    loaded = load_classifier(tmp_path / "step5.pt").state_dict()
    expected = randomised_classifier(load_classifier(tmp_path / "clf.pt"), 5, 3).state_dict()
    assert not _changed(expected, loaded)


def test_block_names_and_bad_steps():
    assert block_name(0) == "none" and block_name(1) == "head" and block_name(N_STEPS) == "conv_block1"
    for bad in (-1, N_STEPS + 1, 1.5):
        with pytest.raises(LmacError, match="step"):
            block_name(bad)


def test_permuted_labels_are_a_seeded_permutation():
    labels = np.repeat(np.arange(10), 24)
    a, b, c = permute_labels(labels, 5), permute_labels(labels, 5), permute_labels(labels, 6)
    np.testing.assert_array_equal(np.sort(a), labels)  # the same labels, class counts kept
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.array_equal(a, c)
    assert (a != labels).mean() > 0.5  # most clips get another clip's label
