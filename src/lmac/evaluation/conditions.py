"""Evaluation conditions: the clip as is, with in-domain noise, or contaminated out of domain.

The reference evaluates interpreters on fold-4 clips under one of these conditions
(docs/reproducibility_notes.md#evaluation-conditions; ``eval.py``, class ``ESCContaminated`` and
``wham_prepare.combine_batches``). With
``s`` the clip and ``n`` the interferer, both scaled to unit L2 norm per clip:

| condition     | interferer ``n``                         | mix before peak division | target : interferer | versions |
|---------------|------------------------------------------|--------------------------|---------------------|----------|
| ``clean``     | none                                     | ``s`` (unchanged clip)   | -                   | 1 |
| ``in_domain`` | WHAM! noise (``noise_source``)           | ``s + n``                | 0 dB                | 1 |
| ``mixture``   | another clip of ``pool`` (ESC-50 fold 5) | ``0.8 s + 0.2 n``        | 12.04 dB            | 2 |
| ``speech``    | speech (``speech_source``: LJSpeech)     | ``0.8 s + 0.2 n``        | 12.04 dB            | 2 |
| ``white_noise``| ``N(0, 1)``                             | ``s + 0.5 n``            | 6.02 dB             | 2 |

then every contaminated clip is divided by its maximum: the **signed** maximum as the reference
(``peak="signed"``) or the absolute one (``peak="abs"``). The divisor applies to both components,
so ``Contaminated.target`` / ``.interferer`` are exactly what sits inside ``wav`` (and
``wav == target + interferer``); localisation ground truth is built from them.

Determinism (where we deliberately differ from the reference, whose contaminants come from global
RNG streams and so depend on how many draws came before): each contaminated item draws from its
own ``torch.Generator`` seeded by a SHA-256 hash of ``(seed, condition, version, item id)``. What a
clip gets is therefore the same for every explanation method, batch size and evaluation order.
The pool and the sources are part of the condition: changing the pool's content or order, or the
noise folder, changes the draws.

Sources follow one protocol: ``sample(length, generator) -> Tensor[length]`` (``AudioFolder`` for
WHAM! and LJSpeech, ``SyntheticSpeech`` for the offline speech proxy; any object with that method
works, e.g. a wrapper around ``GeneratedNoise``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Protocol

import numpy as np
import torch

from ..data.noise import EPS
from ..errors import LmacError

CONDITIONS = ("clean", "in_domain", "mixture", "speech", "white_noise")
PEAKS = ("signed", "abs")
# (target gain, interferer gain) on the unit-norm signals (docs/reproducibility_notes.md#evaluation-conditions).
GAINS: dict[str, tuple[float, float]] = {
    "in_domain": (1.0, 1.0),
    "mixture": (0.8, 0.2),
    "speech": (0.8, 0.2),
    "white_noise": (1.0, 0.5),
}
# Contaminated versions per clip in the reference: one noisy version in the paper-era ID harness,
# ``overlap_multiplier=2`` for the OOD conditions; the clean clip exists once.
REFERENCE_VERSIONS = {"clean": 1, "in_domain": 1, "mixture": 2, "speech": 2, "white_noise": 2}


class Source(Protocol):
    def sample(self, length: int, generator: torch.Generator) -> torch.Tensor: ...


@dataclass
class Contaminated:
    wav: torch.Tensor  # [B, L] what gets explained
    target: torch.Tensor  # [B, L] the target clip's component inside wav (same gains, same peak division)
    interferer: torch.Tensor  # [B, L] the rest; wav == target + interferer (zeros for "clean")


def item_seed(seed: int, condition: str, version: int, item_id: str) -> int:
    """A 63-bit seed from a stable hash (Python's ``hash`` of a str changes per process)."""
    key = f"{seed}\x00{condition}\x00{version}\x00{item_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & (2**63 - 1)


def item_generator(seed: int, condition: str, version: int, item_id: str) -> torch.Generator:
    return torch.Generator().manual_seed(item_seed(seed, condition, version, item_id))


def _fit(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to ``length`` (the reference does the same for LJSpeech)."""
    if x.shape[-1] >= length:
        return x[..., :length]
    return torch.nn.functional.pad(x, (0, length - x.shape[-1]))


class Condition:
    """One evaluation condition; see the module docstring for the formulas.

    ``apply(wav, item_ids, version)`` contaminates a batch [B, L]; ``item_ids[i]`` names row ``i``
    (the manifest id) and ``version`` runs over ``range(self.versions)``.
    """

    def __init__(
        self,
        name: str,
        *,
        seed: int,
        versions: int,
        peak: str = "signed",
        noise_source: Source | None = None,
        speech_source: Source | None = None,
        pool: torch.Tensor | np.ndarray | None = None,
        pool_ids: Sequence[str] | None = None,
        pool_labels: Sequence[int] | None = None,
        different_class: bool = False,
        distinct: bool = False,
    ):
        self.name = name
        self.distinct = distinct
        self.seed = seed
        self.versions = versions
        self.peak = peak
        self.noise_source = noise_source
        self.speech_source = speech_source
        self.pool = pool
        self.pool_ids = np.asarray(list(pool_ids), dtype=object) if pool_ids is not None else None
        self.pool_labels = np.asarray(list(pool_labels)) if pool_labels is not None else None
        self.different_class = different_class

    def __repr__(self) -> str:
        return f"Condition({self.name!r}, versions={self.versions}, seed={self.seed}, peak={self.peak!r})"

    @property
    def gains(self) -> tuple[float, float] | None:
        """(target, interferer) gains on the unit-norm signals; None for ``clean``."""
        return GAINS.get(self.name)

    @property
    def snr_db(self) -> float:
        """Target-to-interferer ratio in dB (unit-norm signals); +inf for ``clean``."""
        if self.gains is None:
            return math.inf
        g_s, g_n = self.gains
        return 20 * math.log10(g_s / g_n)

    def describe(self) -> dict:
        """Settings worth recording next to the results."""
        out = {"name": self.name, "versions": self.versions, "seed": self.seed, "snr_db": self.snr_db}
        if self.gains is not None:
            out.update(peak=self.peak, target_gain=self.gains[0], interferer_gain=self.gains[1])
        source = {"in_domain": self.noise_source, "speech": self.speech_source}.get(self.name)
        if source is not None:
            out["source"] = repr(source)
        if self.name == "mixture":
            out.update(pool_size=len(self.pool_ids), different_class=self.different_class, distinct=self.distinct)
        return out

    def item_ids(self, ids: Sequence[str], version: int) -> list[str]:
        """Names for the evaluated items: the clip id, plus ``@v{version}`` when there are versions."""
        return list(ids) if self.versions == 1 else [f"{i}@v{version}" for i in ids]

    def apply(
        self,
        wav: torch.Tensor,
        item_ids: Sequence[str],
        version: int,
        labels: Sequence[int] | torch.Tensor | None = None,
    ) -> Contaminated:
        """Contaminate ``wav`` [B, L]. ``labels`` is needed only with ``different_class``."""
        if wav.dim() != 2 or wav.shape[0] != len(item_ids):
            raise ValueError(f"wav must be [B, L] with one id per row; got {tuple(wav.shape)} and {len(item_ids)} ids")
        if not 0 <= version < self.versions:
            raise ValueError(f"condition {self.name}: version {version} outside 0..{self.versions - 1}")
        if self.name == "clean":
            return Contaminated(wav, wav, torch.zeros_like(wav))
        length = wav.shape[-1]
        if self.different_class:
            if labels is None:
                raise ValueError("condition mixture with different_class needs the clips' labels")
            labels = np.asarray(torch.as_tensor(labels).cpu())
        noise = []
        for i, item in enumerate(item_ids):
            g = item_generator(self.seed, self.name, version, str(item))
            label = None if labels is None else labels[i]
            noise.append(self._interferer(length, g, str(item), label, version))
        n = torch.stack(noise).to(device=wav.device, dtype=wav.dtype)
        return self._mix(wav, n)

    def _interferer(self, length: int, g: torch.Generator, item: str, label, version: int = 0) -> torch.Tensor:
        if self.name == "white_noise":
            return torch.randn(length, generator=g)
        if self.name == "mixture":
            ok = self.pool_ids != item  # never the clip itself
            if self.different_class:
                ok &= self.pool_labels != label
            candidates = np.flatnonzero(ok)
            if candidates.size == 0:
                raise LmacError(
                    f"condition mixture: the pool holds no clip to mix with '{item}'"
                    + (" of another class" if self.different_class else "")
                )
            if self.distinct:
                # one draw without replacement per clip, shared by its versions (the reference's random.sample)
                if candidates.size < self.versions:
                    raise LmacError(
                        f"condition mixture: {self.versions} distinct interferers asked for '{item}', "
                        f"the pool holds {candidates.size}"
                    )
                order = torch.randperm(candidates.size, generator=item_generator(self.seed, self.name, -1, item))
                j = int(candidates[int(order[version])])
            else:
                j = int(candidates[int(torch.randint(candidates.size, (1,), generator=g))])
            row = self.pool[j]
            row = row.detach().cpu() if isinstance(row, torch.Tensor) else torch.from_numpy(np.array(row))
            return _fit(row.float(), length)
        source = self.noise_source if self.name == "in_domain" else self.speech_source
        return _fit(torch.as_tensor(source.sample(length, g)).float().cpu(), length)

    def _mix(self, s: torch.Tensor, n: torch.Tensor) -> Contaminated:
        g_s, g_n = self.gains
        target = g_s * s / (s.norm(dim=-1, keepdim=True) + EPS)
        interferer = g_n * n / (n.norm(dim=-1, keepdim=True) + EPS)
        mix = target + interferer
        divisor = mix.amax(dim=-1, keepdim=True) if self.peak == "signed" else mix.abs().amax(dim=-1, keepdim=True)
        # A non-positive signed maximum (an all-negative mix) would flip or blow up the clip, as
        # it would in the reference; fall back to the absolute maximum there.
        divisor = torch.where(divisor > EPS, divisor, mix.abs().amax(dim=-1, keepdim=True))
        divisor = divisor + EPS
        target, interferer = target / divisor, interferer / divisor
        return Contaminated(target + interferer, target, interferer)


def make_condition(
    name: str,
    *,
    seed: int,
    versions: int | None = None,
    noise_source: Source | None = None,
    speech_source: Source | None = None,
    pool: torch.Tensor | np.ndarray | None = None,
    pool_ids: Sequence[str] | None = None,
    peak: str = "signed",
    pool_labels: Sequence[int] | None = None,
    different_class: bool = False,
    distinct: bool = False,
) -> Condition:
    """Build a condition, checking that what it needs was given (``LmacError`` naming what is missing).

    ``versions``: contaminated versions per clip; None = the reference's count (1 for ``clean`` and
    ``in_domain``, 2 for the OOD conditions). ``clean`` always has one version (it is deterministic).
    ``pool`` [N, L'] (a tensor, or a NumPy array such as the memory-mapped prepared audio, read a row
    at a time) and ``pool_ids`` (N ids) feed ``mixture``; pool clips are cropped or zero-padded to
    the target length. ``different_class`` (with ``pool_labels``; not in the reference, which
    does not check the class) restricts the contaminant to another class. ``distinct``: the versions
    of a clip mix in distinct pool clips (the reference samples them without replacement); otherwise
    each version draws on its own, so two may share an interferer.
    """
    if name not in CONDITIONS:
        raise LmacError(f"evaluation condition '{name}': unknown (known: {', '.join(CONDITIONS)})")
    if peak not in PEAKS:
        raise LmacError(f"evaluation condition {name}: peak = {peak!r}: must be one of {', '.join(PEAKS)}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise LmacError(f"evaluation condition {name}: seed = {seed!r}: must be an integer")
    if versions is None:
        versions = REFERENCE_VERSIONS[name]
    if isinstance(versions, bool) or not isinstance(versions, Integral) or versions < 1:
        raise LmacError(f"evaluation condition {name}: versions = {versions!r}: must be a positive integer")
    if name == "clean":
        versions = 1
    if name == "in_domain" and noise_source is None:
        raise LmacError("evaluation condition in_domain needs a noise source (WHAM! folder or generated noise)")
    if name == "speech" and speech_source is None:
        raise LmacError("evaluation condition speech needs a speech source (LJSpeech folder or the speech proxy)")
    if name == "mixture":
        if pool is None or pool_ids is None:
            raise LmacError("evaluation condition mixture needs a pool of clips and their ids")
        if pool.ndim != 2 or pool.shape[0] != len(pool_ids) or len(pool_ids) == 0:
            raise LmacError(
                f"evaluation condition mixture: pool {tuple(pool.shape)} does not match {len(pool_ids)} pool ids"
            )
        if different_class and (pool_labels is None or len(pool_labels) != len(pool_ids)):
            raise LmacError("evaluation condition mixture: different_class needs one pool label per pool clip")
    return Condition(
        name,
        seed=int(seed),
        versions=int(versions),
        peak=peak,
        noise_source=noise_source,
        speech_source=speech_source,
        pool=pool,
        pool_ids=pool_ids,
        pool_labels=pool_labels,
        different_class=different_class and name == "mixture",
        distinct=distinct and name == "mixture",
    )
