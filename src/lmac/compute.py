"""How the device computes a step: precision, cuDNN autotuning, pinned copies, batches made in the background,
torch.compile. One :class:`Compute`, from the config's ``compute`` section, serves every training step and
every explanation, so no trainer keeps its own copy of these switches.

The default (fp32, everything off) is the reference and changes nothing: no autocast, no flag set, batches
made in the foreground and copied as before. ``bf16`` runs each forward pass (and the loss) under
``torch.autocast`` with bfloat16; the weights, gradients, optimiser state and checkpoints stay fp32, so a
run resumes under another precision. ``tf32`` lets CUDA matmuls and cuDNN convolutions use TF32; on the CPU
it is a no-op (logged), as ``pin_memory`` and ``cudnn_benchmark`` are: a GPU-cluster config still runs on a
laptop. ``prefetch: N`` makes up to N batches in a background thread (reading the memory-mapped clips,
contaminating evaluation inputs, pinning) while the device computes; batches draw from seeded generators of
their own, so the results are those of the foreground path. ``compile`` compiles, in place
(``nn.Module.compile``, so the state-dict keys stay), the classifier's network and the trained module, with
inductor's ``fallback_random`` so that a compiled run draws eager's random numbers (dropout).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TypeVar

import torch

from .errors import LmacError

log = logging.getLogger("lmac.compute")

PRECISIONS = ("fp32", "bf16", "tf32")
T = TypeVar("T")


@dataclass(frozen=True)
class Compute:
    """The ``compute`` section (module docstring); the defaults are the reference path."""

    precision: str = "fp32"
    cudnn_benchmark: bool = False
    pin_memory: bool = False
    prefetch: int = 0
    compile: bool = False

    @classmethod
    def from_config(cls, section: dict | None, where: str = "compute") -> Compute:
        """The section checked (one line naming the key, as the schema's check) and completed with defaults."""
        section = dict(section or {})
        unknown = sorted(set(section) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise LmacError(
                f"config key '{where}.{unknown[0]}': unknown key ({', '.join(f.name for f in dataclasses.fields(cls))})"
            )
        if section.get("precision", "fp32") not in PRECISIONS:
            raise LmacError(
                f"config key '{where}.precision': {section['precision']!r} is not one of {', '.join(PRECISIONS)}"
            )
        for key in ("cudnn_benchmark", "pin_memory", "compile"):
            if not isinstance(section.get(key, False), bool):
                raise LmacError(f"config key '{where}.{key}': {section[key]!r} must be true or false")
        prefetch = section.get("prefetch", 0)
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise LmacError(f"config key '{where}.prefetch': {prefetch!r} must be a whole number of batches >= 0")
        return cls(**section)

    def describe(self) -> str:
        on = [
            f"{f.name} {getattr(self, f.name)}" for f in dataclasses.fields(self) if getattr(self, f.name) != f.default
        ]
        return ", ".join(on) or "fp32 reference"

    @contextmanager
    def applied(self, device: torch.device) -> Iterator[None]:
        """The process-wide switches (TF32, cuDNN autotuning, compile's random numbers) for the duration
        of one job, restored afterwards; the default touches nothing."""
        if self == REFERENCE:
            yield
            return
        cuda = device.type == "cuda"
        log.info("compute: %s on %s", self.describe(), device)
        if not cuda and (self.precision == "tf32" or self.cudnn_benchmark or self.pin_memory):
            log.info("compute: tf32, cudnn_benchmark and pin_memory are CUDA settings: no-ops on %s", device)
        saved = _switches(inductor=self.compile)
        try:
            if cuda and self.precision == "tf32":
                torch.backends.cuda.matmul.fp32_precision = "tf32"
                torch.backends.cudnn.conv.fp32_precision = "tf32"
            if cuda and self.cudnn_benchmark:
                torch.backends.cudnn.benchmark = True
            if self.compile:
                import torch._inductor.config as inductor

                inductor.fallback_random = True
            yield
        finally:
            _restore(saved)

    def autocast(self, device: torch.device):
        """The context of one forward pass (and its loss): bf16 autocast, else nothing."""
        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    def pinned(self, device: torch.device) -> bool:
        return self.pin_memory and device.type == "cuda"

    def to(self, tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
        """``tensor`` on ``device``: a non-blocking copy when it was pinned (:meth:`batches`)."""
        return tensor.to(device, non_blocking=self.pinned(device) and tensor.is_pinned())

    def batches(self, items: Iterable, device: torch.device) -> Iterable:
        """``items`` (batches: tensors, possibly in tuples), pinned when asked, made ``prefetch`` ahead in a
        background thread; the default returns ``items`` itself."""
        if self.pinned(device):
            items = map(_pin, items)
        return _ahead(items, self.prefetch) if self.prefetch > 0 else items

    def explained(self, device: torch.device, explain: Callable[..., T], *args) -> T:
        """``explain(*args)`` (an explanation: a dataclass of tensors) under autocast, its floating tensors back
        in fp32 so that scoring, which stays in fp32, measures the explanation and not the precision."""
        if self.precision != "bf16":
            return explain(*args)
        with self.autocast(device):
            return _fp32(explain(*args))

    def compiled(self, *modules: torch.nn.Module) -> None:
        """Compile each module's call in place (``compile: true``), keeping its state-dict keys."""
        if self.compile:
            for module in modules:
                module.compile()


#: fp32, everything off: the reference path, and what a config without a ``compute`` section gets
REFERENCE = Compute()


def _pin(item):
    """A batch with its tensors in pinned memory: tensors, in tuples or dataclasses (a contaminated item)."""
    if isinstance(item, torch.Tensor):
        return item.pin_memory()
    if isinstance(item, tuple):
        return tuple(_pin(x) for x in item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.replace(item, **{f.name: _pin(getattr(item, f.name)) for f in dataclasses.fields(item)})
    return item


def _switches(inductor: bool) -> dict:
    """The global switches a job may set; inductor's only when it compiles (importing it costs ~1 s a job)."""
    saved = {
        "matmul": torch.backends.cuda.matmul.fp32_precision,
        "conv": torch.backends.cudnn.conv.fp32_precision,
        "benchmark": torch.backends.cudnn.benchmark,
    }
    if inductor:
        import torch._inductor.config as inductor_config

        saved["fallback_random"] = inductor_config.fallback_random
    return saved


def _restore(saved: dict) -> None:
    torch.backends.cuda.matmul.fp32_precision = saved["matmul"]
    torch.backends.cudnn.conv.fp32_precision = saved["conv"]
    torch.backends.cudnn.benchmark = saved["benchmark"]
    if "fallback_random" in saved:
        import torch._inductor.config as inductor_config

        inductor_config.fallback_random = saved["fallback_random"]


_DONE = object()


def _ahead(items: Iterable, depth: int) -> Iterator:
    """``items`` made by a background thread, at most ``depth`` ahead of the consumer; an error there is
    raised here, and a consumer that stops early (an error in the step, an interruption) stops the thread."""
    slots: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as err:  # handed to the consumer, which raises it with its traceback
            put((False, err))

    thread = threading.Thread(target=work, name="lmac-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _fp32(obj):
    """A dataclass of tensors (an explanation) with its floating tensors back in fp32 after autocast."""
    changes = {
        f.name: value.float()
        for f in dataclasses.fields(obj)
        if isinstance(value := getattr(obj, f.name), torch.Tensor) and value.is_floating_point()
    }
    return dataclasses.replace(obj, **changes)
