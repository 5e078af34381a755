"""Which torch device names lmac accepts, and whether this machine has the GPU one names.

One check serves the workflow (``config_rules.check_device``: the config key, before any job is
scheduled) and every step (``training.pick_device``: the option, before the data are loaded); only
the wording differs, since the first speaks of the config key and the second of the value given.
Torch-free, so that the Snakefile can ask it without importing torch.
"""

from __future__ import annotations

import re

from .errors import LmacError

DEVICE_FORMS = "auto, cpu, cuda or cuda:N"

# {(where the value came from, problem): message}; {d} is the value, {n} the GPU count, {last} n - 1
_MESSAGES = {
    ("option", "form"): "device {d!r}: not a device lmac runs on (use " + DEVICE_FORMS + ")",
    # docs/cluster.md quotes this message for GPU nodes that lack a CUDA build of torch
    ("option", "no_gpu"): "device {d!r} requested but no CUDA GPU is available (use auto or cpu)",
    ("option", "too_few"): "device {d!r}: this machine has {n} CUDA GPU(s) "
    "(use auto, cpu, cuda or cuda:N with N from 0 to {last})",
    ("config", "form"): "config key 'device': {d!r} is not a device lmac runs on (use " + DEVICE_FORMS + ")",
    ("config", "no_gpu"): "config key 'device': {d!r} but this machine has no CUDA GPU "
    "(use device: auto or cpu, or submit to a GPU cluster with a profile)",
    ("config", "too_few"): "config key 'device': {d!r} but this machine has {n} CUDA GPU(s) (cuda:0 to cuda:{last})",
}


def check_device(requested: object, cuda_count: int, *, source: str = "option") -> None:
    """An LmacError unless ``requested`` is auto, cpu, or a CUDA device this machine has.

    ``cuda_count`` is the number of usable CUDA GPUs (0 without a CUDA build of torch); ``source``
    (``option`` or ``config``) picks the message's wording. ``auto`` needs no GPU: it falls back to the CPU.
    """
    match = re.fullmatch(r"auto|cpu|cuda(?::(\d+))?", requested) if isinstance(requested, str) else None
    problem = None
    if match is None:
        problem = "form"
    elif requested.startswith("cuda") and cuda_count == 0:
        problem = "no_gpu"
    elif match.group(1) is not None and int(match.group(1)) >= cuda_count:
        problem = "too_few"
    if problem is not None:
        raise LmacError(_MESSAGES[source, problem].format(d=requested, n=cuda_count, last=cuda_count - 1))
