"""Checkpoint files: one format for every model lmac trains, loaded without running code.

A checkpoint is a plain dict ``{"format", "kind", "config", "state_dict", "meta"}`` saved with
``torch.save`` and always read with ``torch.load(weights_only=True)``: a pickle that would
construct arbitrary objects (and so could run code) is refused with a clear error instead of
being executed. ``kind`` says what the file holds ("classifier", "lmac", ...), so handing an
explainer checkpoint to a step that wants a classifier fails with a one-line message.

A file of the right kind can still come from another version of lmac (a config key renamed,
a layer added) or be edited by hand. Every loader goes through :func:`stored_config`,
:func:`building_from` and :func:`load_weights`, so such a file also fails with one line that
names it and the offending key, instead of a KeyError or torch's multi-line RuntimeError.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .errors import LmacError
from .io import atomic_path

FORMAT = 1


def save_checkpoint(
    path: str | os.PathLike, kind: str, config: dict, state_dict: dict, meta: dict | None = None
) -> None:
    payload = {
        "format": FORMAT,
        "kind": kind,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "meta": meta or {},
    }
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
            raise LmacError(
                f"{path}: refusing to load, the file would construct objects beyond plain "
                f"tensors and containers, which could run code ({offending.group(1)})"
            ) from None
        raise LmacError(f"{path}: not a readable PyTorch checkpoint (corrupt or not a torch file)") from None
    except Exception as err:  # torch's unpickler raises many types (KeyError, IndexError, ...) on garbage
        detail = (str(err).splitlines() or [type(err).__name__])[0]
        raise LmacError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {detail})") from None


def load_checkpoint(
    path: str | os.PathLike, kind: str | tuple[str, ...] | None = None, map_location: str | torch.device = "cpu"
) -> dict:
    payload = load_torch_file(path, map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "kind" not in payload:
        raise LmacError(f"{path}: not an lmac checkpoint (no 'format'/'kind' header)")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds and payload["kind"] not in kinds:
        raise LmacError(f"{path}: is a '{payload['kind']}' checkpoint, expected {' or '.join(repr(k) for k in kinds)}")
    return payload


def _quoted(noun: str, keys: Sequence[str], limit: int = 3) -> str:
    """``key 'a'`` or ``keys 'a', 'b', 'c' and 2 more``: every offending key, within one short line."""
    shown = ", ".join(f"'{k}'" for k in keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{noun}{'s' if len(keys) > 1 else ''} {shown}{more}"


def stored_config(path: str | os.PathLike, payload: dict, keys: Sequence[str], what: str) -> dict:
    """The config a checkpoint recorded, checked to hold ``keys`` (dotted for nested ones: ``arch.n_filters``).

    ``what`` names the model in the message ("an L-MAC", ...).
    """
    config = payload.get("config")
    if not isinstance(config, dict):
        raise LmacError(f"{path}: checkpoint has no config mapping ({what} checkpoint from another version?)")

    def absent(key: str) -> str | None:
        """The shortest missing prefix of ``key`` (``arch``, not each ``arch.*``, when arch is gone)."""
        node, parts = config, key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                return ".".join(parts[: i + 1 if isinstance(node, dict) else i])
            node = node[part]
        return None

    missing = list(dict.fromkeys(m for m in map(absent, keys) if m is not None))
    if missing:
        raise LmacError(
            f"{path}: checkpoint config lacks {_quoted('key', missing)} ({what} checkpoint from another version?)"
        )
    return config


@contextlib.contextmanager
def building_from(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Around building a model from a stored config: a value it cannot take becomes one line naming the file.

    The constructors' own messages name config keys of the run (``lmac.mask_domain: ...``); here
    the value came from the checkpoint, so the file is what the user must look at.
    """
    try:
        yield
    except (LmacError, TypeError, ValueError, KeyError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        if not isinstance(err, LmacError):
            detail = f"{type(err).__name__}: {detail}"
        raise LmacError(f"{path}: checkpoint config does not describe {what} model ({detail})") from None


def check_state_dict(
    path: str | os.PathLike,
    state: Any,
    expected: Mapping[str, torch.Tensor],
    what: str,
    prefix: str = "",
    optional_suffixes: tuple[str, ...] = (),
    hint: str | None = None,
) -> None:
    """Raise one :class:`LmacError` naming every missing, unexpected or mis-shaped weight of ``state``.

    ``expected`` is the model's own ``state_dict()``; ``prefix`` names the part checked
    (``"encoder "``); keys ending in ``optional_suffixes`` may be missing (torch fills a BatchNorm's
    ``num_batches_tracked`` itself); ``hint`` replaces the closing guess at the cause. Checked
    before anything is loaded, so a failure changes no weight.
    """
    if not isinstance(state, Mapping):
        raise LmacError(
            f"{path}: checkpoint holds no {prefix}weights (found {type(state).__name__}, "
            f"expected a mapping of names to tensors)"
        )
    missing = [k for k in expected if k not in state and not k.endswith(optional_suffixes)]
    unexpected = [k for k in state if k not in expected]
    not_tensors = [k for k in expected if k in state and not isinstance(state[k], torch.Tensor)]
    shapes = [
        (k, tuple(state[k].shape), tuple(ref.shape))
        for k, ref in expected.items()
        if isinstance(state.get(k), torch.Tensor) and tuple(state[k].shape) != tuple(ref.shape)
    ]
    problems = []
    if missing:
        problems.append(f"lacks {prefix}{_quoted('weight', missing)}")
    if unexpected:
        problems.append(f"has unexpected {prefix}{_quoted('weight', unexpected)}")
    if not_tensors:
        problems.append(f"holds no tensor for {prefix}{_quoted('weight', not_tensors)}")
    if shapes:
        key, got, need = shapes[0]
        more = f" (and {len(shapes) - 1} more of other shapes)" if len(shapes) > 1 else ""
        problems.append(f"{prefix}weight '{key}' has shape {got}, the model needs {need}{more}")
    if problems:
        hint = hint or f"{what} model from another version or of another size?"
        raise LmacError(f"{path}: checkpoint {'; '.join(problems)} ({hint})")


def load_weights(
    path: str | os.PathLike,
    module: torch.nn.Module,
    state: Any,
    what: str,
    prefix: str = "",
    optional_suffixes: tuple[str, ...] = (),
    hint: str | None = None,
) -> None:
    """``module.load_state_dict(state)`` after :func:`check_state_dict`: one line, never a traceback."""
    expected = module.state_dict()
    check_state_dict(path, state, expected, what, prefix, optional_suffixes, hint)
    module.load_state_dict(state, strict=all(k in state for k in expected))
