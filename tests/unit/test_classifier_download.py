"""Classifier checkpoints given by URL: local file names, the inputs train_classifier reads, clear errors."""

from __future__ import annotations

import pytest

from lmac.classifier import pretrained
from lmac.classifier.model import AudioClassifier
from lmac.classifier.train import _initialise
from lmac.errors import LmacError

HF = "https://huggingface.co/speechbrain/cnn14-esc50/resolve/f16f0b8f30f4aecae11b60b2a17243f1ab5936ee"
ROOT = pretrained.CHECKPOINT_DIR


def test_url_keys_are_downloaded_under_their_file_names():
    cfg = {"init_checkpoint": f"{HF}/embedding_model.ckpt?download=true", "init_head": f"{HF}/classifier.ckpt"}
    assert pretrained.downloads(cfg) == {
        "init_checkpoint": f"{ROOT}/embedding_model.ckpt",
        "init_head": f"{ROOT}/classifier.ckpt",
    }
    assert pretrained.local_inputs(cfg) == pretrained.downloads(cfg)


def test_local_paths_and_nulls_are_not_downloaded():
    cfg = {"init_checkpoint": "checkpoints/embedding_model.ckpt", "init_head": None}
    assert pretrained.downloads(cfg) == {}
    # a local path is still an input of train_classifier: a missing file stops the DAG, a new one reruns it
    assert pretrained.local_inputs(cfg) == {"init_checkpoint": "checkpoints/embedding_model.ckpt"}
    assert pretrained.local_inputs({"init_checkpoint": None, "init_head": None}) == {}
    mixed = {"init_checkpoint": "file:///data/emb.ckpt", "init_head": "/data/head.ckpt"}
    assert pretrained.local_inputs(mixed) == {"init_checkpoint": f"{ROOT}/emb.ckpt", "init_head": "/data/head.ckpt"}


def test_two_urls_with_one_file_name_are_refused():
    cfg = {"init_checkpoint": "https://a.org/x/model.ckpt", "init_head": "https://b.org/y/model.ckpt"}
    with pytest.raises(LmacError, match="both URLs name the file model.ckpt"):
        pretrained.downloads(cfg)


def test_url_without_a_file_name_is_refused():
    with pytest.raises(
        LmacError, match=r"config key 'classifier.init_checkpoint': the URL https://a.org/ names no file"
    ):
        pretrained.downloads({"init_checkpoint": "https://a.org/"})


def test_step_reads_the_downloaded_copy():
    cfg = {"width": 1.0, "init_checkpoint": f"{HF}/embedding_model.ckpt", "init_head": None}
    got = pretrained.with_local_paths(cfg, {"init_checkpoint": f"{ROOT}/embedding_model.ckpt", "audio": "a.npy"})
    assert got == {"width": 1.0, "init_checkpoint": f"{ROOT}/embedding_model.ckpt", "init_head": None}
    assert cfg["init_checkpoint"].startswith("https://")  # the config itself is left alone


def test_training_outside_the_workflow_names_the_url():
    model = AudioClassifier(["a", "b"], width=1 / 16)
    with pytest.raises(LmacError, match=r"classifier.init_checkpoint.*is a URL; download it first"):
        _initialise(model, f"{HF}/embedding_model.ckpt", None)
    with pytest.raises(LmacError, match=r"classifier.init_head.*is a URL"):
        _initialise(model, "local.ckpt", f"{HF}/classifier.ckpt")
