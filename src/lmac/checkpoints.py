"""Checkpoint files: one format for every model lmac trains, loaded without running code.

A checkpoint is a plain dict ``{"format", "kind", "config", "state_dict", "meta"}`` saved with
``torch.save`` and always read with ``torch.load(weights_only=True)``: a pickle that would
construct arbitrary objects (and so could run code) is refused with a clear error instead of
being executed. ``kind`` says what the file holds ("classifier", "lmac", ...), so handing an
explainer checkpoint to a step that wants a classifier fails with a one-line message.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .errors import LmacError
from .io import atomic_path

FORMAT = 1


def save_checkpoint(path: str | os.PathLike, kind: str, config: dict, state_dict: dict,
                    meta: dict | None = None) -> None:
    payload = {"format": FORMAT, "kind": kind, "config": config,
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
               "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_torch_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` restricted to tensors and plain containers, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise LmacError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        offending = re.search(r"(unsupported GLOBAL [^\s]+|Unsupported global: [^\s]+)", text, re.IGNORECASE)
        if offending:
            raise LmacError(f"{path}: refusing to load, the file would construct objects beyond plain "
                            f"tensors and containers, which could run code ({offending.group(1)})") from None
        raise LmacError(f"{path}: not a readable PyTorch checkpoint (corrupt or not a torch file)") from None
    except Exception as err:  # torch's unpickler raises many types (KeyError, IndexError, ...) on garbage
        detail = (str(err).splitlines() or [type(err).__name__])[0]
        raise LmacError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {detail})") from None


def load_checkpoint(path: str | os.PathLike, kind: str | tuple[str, ...] | None = None,
                    map_location: str | torch.device = "cpu") -> dict:
    payload = load_torch_file(path, map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "kind" not in payload:
        raise LmacError(f"{path}: not an lmac checkpoint (no 'format'/'kind' header)")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds and payload["kind"] not in kinds:
        raise LmacError(f"{path}: is a '{payload['kind']}' checkpoint, expected {' or '.join(repr(k) for k in kinds)}")
    return payload
