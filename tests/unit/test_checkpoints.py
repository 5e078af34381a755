"""Checkpoints load with weights_only=True: files that would run code are refused."""

import os

import pytest
import torch

from lmac.checkpoints import load_checkpoint, save_checkpoint
from lmac.errors import LmacError


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_round_trip_and_kind_check(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, "classifier", {"width": 0.5}, {"w": torch.ones(2)})
    payload = load_checkpoint(path, "classifier")
    assert payload["config"] == {"width": 0.5} and torch.equal(payload["state_dict"]["w"], torch.ones(2))
    with pytest.raises(LmacError, match="is a 'classifier' checkpoint, expected 'lmac'"):
        load_checkpoint(path, "lmac")


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "kind": "classifier", "payload": Exploit()}, path)
    with pytest.raises(LmacError, match="refusing to load"):
        load_checkpoint(path)


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LmacError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(LmacError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.ones(1)}, plain)
    with pytest.raises(LmacError, match="not an lmac checkpoint"):
        load_checkpoint(plain)
