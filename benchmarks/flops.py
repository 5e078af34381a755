"""FLOPs of one step of any model, counted by torch's FLOP counter, on fake tensors or real ones.

``count_flops(step, fake=True)`` runs ``step()`` under :class:`FlopCounter` inside
:func:`fake_tensors`: every tensor ``step`` creates (the models too, when it builds them) is a
``FakeTensor`` with a shape and no data, so a paper-size step is counted in seconds without memory.
What the fake run cannot know it assumes: an ``.item()`` / ``float(t)`` reads 1, a truth value is
false (``torch.equal``, ``bool(t.any())``), ``Module.to`` keeps a module where it is, a deep copy stays in the
fake mode, ``.numpy()`` gives zeros of the shape, and ``torch.istft`` (its window check reads data) is replaced by a stand-in of the same
shape. None of these changes the count, which covers what torch's counter counts — matrix
products, convolutions and attention, forward and backward — and not element-wise ops or FFTs
(an STFT of a 5 s clip is ~0.02 GFLOP, a CNN14 forward ~21 GFLOP).
``tests/unit/test_gpu_budget.py`` checks the fake count against the real one on a small model.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from unittest import mock

import numpy as np
import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, unset_fake_temporarily
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten


class _GlobalOnly:
    """FlopCounterMode's module tracker, reduced to the total: its backward hooks make
    ``torch.autograd.grad`` on a leaf input fail (Captum's saliency, SmoothGrad, SHAP)."""

    parents = ("Global",)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


class FlopCounter(FlopCounterMode):
    """:class:`torch.utils.flop_counter.FlopCounterMode` counting the total only (no per-module table)."""

    def __init__(self):
        super().__init__(display=False)
        self.mod_tracker = _GlobalOnly()


class _AssumeData(TorchDispatchMode):
    """Answers the ops that read a fake tensor's data: a number reads 1, a truth value false (no two
    tensors are equal: evaluation's scoring then classifies every row it would otherwise take from an
    identical one, an upper bound), a boolean mask keeps every element (another upper bound)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is aten._local_scalar_dense.default:
            dtype = args[0].dtype
            return False if dtype == torch.bool else (1.0 if dtype.is_floating_point or dtype.is_complex else 1)
        if func in (aten.equal.default, aten.is_nonzero.default):
            return False
        if func is aten.nonzero.default:
            return torch.zeros(args[0].numel(), args[0].dim(), dtype=torch.long, device=args[0].device)
        if func in _INDEXING and any(i is not None and i.dtype == torch.bool for i in args[1]):
            args = (args[0], [k for i in args[1] for k in _all_true(i)], *args[2:])
        return func(*args, **(kwargs or {}))


_INDEXING = (aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default)


def _all_true(index: torch.Tensor | None) -> list[torch.Tensor | None]:
    """A boolean index as the integer indices it would be if every element were true (shapes only)."""
    if index is None or index.dtype != torch.bool:
        return [index]
    return [torch.zeros(index.numel(), dtype=torch.long, device=index.device)] * index.dim()


def _istft_shape(spec: torch.Tensor, *args, length: int | None = None, **kwargs) -> torch.Tensor:
    """``torch.istft``'s output shape [..., length], differentiable in ``spec`` (its FFTs count no FLOPs)."""
    return spec.abs().mean(dim=(-2, -1)).unsqueeze(-1).expand(*spec.shape[:-2], length)


def _deepcopy_in_mode(tensor: FakeTensor, memo: dict) -> torch.Tensor:
    """A copy in the tensor's own fake mode (torch's default deep copy of a buffer makes another mode's
    tensor: SpeechBrain's dual-path model deep-copies its transformer blocks)."""
    if isinstance(tensor, torch.nn.Parameter):
        out = torch.nn.Parameter(tensor.detach().clone(), tensor.requires_grad)
    else:
        out = tensor.clone()
    memo[id(tensor)] = out
    return out


def _numpy_shape(tensor: FakeTensor, *args, **kwargs) -> np.ndarray:
    """Zeros of the tensor's shape and dtype: what NumPy computes on it counts no torch FLOPs."""
    with unset_fake_temporarily():
        dtype = torch.empty((), dtype=tensor.dtype).numpy().dtype
    return np.zeros(tuple(tensor.shape), dtype=dtype)


@contextlib.contextmanager
def fake_tensors() -> Iterator[None]:
    """Every tensor created inside is a FakeTensor (module docstring)."""
    with (
        warnings.catch_warnings(),
        FakeTensorMode(allow_non_fake_inputs=True),  # tensors made from NumPy arrays are real ones
        _AssumeData(),
        mock.patch.object(torch, "istft", _istft_shape),
        mock.patch.object(FakeTensor, "__deepcopy__", _deepcopy_in_mode, create=True),
        mock.patch.object(FakeTensor, "numpy", _numpy_shape, create=True),
        # every fake tensor is already on the one (fake) CPU device; moving one would swap a parameter
        mock.patch.object(torch.nn.Module, "to", lambda module, *args, **kwargs: module),
    ):
        warnings.filterwarnings("ignore", "Accessing the data pointer of FakeTensor")  # SpeechBrain's, harmless here
        yield


def count_flops(make: Callable[[], Callable[[], object]], fake: bool = True) -> int:
    """FLOPs of one call of ``make()``'s step (``make`` builds the models and inputs), on fake tensors or real ones."""
    with fake_tensors() if fake else contextlib.nullcontext():
        step = make()
        counter = FlopCounter()
        with counter:
            step()
    return counter.get_total_flops()
