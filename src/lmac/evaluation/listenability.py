r"""Objective listenability of an explanation's waveform against the known clean target.

The papers measure audio quality only with user studies (docs/reproducibility_notes.md#evaluation-metrics). Where the evaluation
condition adds a known interferer n to the target s (``in_domain``, ``mixture``, ``speech``,
``white_noise``: ``wav == s + n``, both as they sit inside the input), the listenable explanation
ŝ of every method can be compared with s offline, with no downloaded model (docs/beyond_the_papers.md):

| column           | per clip                                                               | better |
|------------------|------------------------------------------------------------------------|--------|
| SI_SDR           | scale-invariant SDR of ŝ against s, in dB (torchmetrics, zero-mean)     | ↑ |
| LSD              | log-spectral distance of ŝ to s, in dB (below)                         | ↓ |
| interferer_kept  | b² where ŝ ≈ a·s + b·n (least squares): the share of the interferer's energy left in ŝ | ↓ |
| target_kept      | a² of the same fit: the share of the target's energy left in ŝ (read next to interferer_kept, which a silent explanation games) | — |
| silent           | 1 when ŝ has no energy (SI_SDR is then NaN, LSD its maximum)            | — |

LSD: P = |STFT|² on the classifier's STFT grid, floored at ``FLOOR_DB`` (80 dB) below the
target's peak bin so silent bins compare as "80 dB down" instead of −∞;
LSD = mean over frames of sqrt(mean over bins of (10·log10 P̂ − 10·log10 P)²). Identical signals
give 0; a silent explanation gives at most 80.

interferer_kept: ŝ is projected on the span of {s, n} (the BSS-eval decomposition restricted to
the two known components); b·n is the interferer left in the explanation, so b² = ‖b·n‖²/‖n‖²
is 0 for ŝ = s, 1 for ŝ = n or the whole input, ¼ for half the input. It reads the waveform, so
it sees every method's real output (resynthesised masks keep the input's phase; LMAC-TD decodes
its own).

Where there is no interferer (``clean``: n = 0) the clean target is the input itself and none of
these is defined: NaN. A silent clean target likewise gives NaN.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from ..frontend import FrontEnd
from .catalogue import DIRECTION, LISTENABILITY

LISTENABILITY_METRICS = LISTENABILITY.names
LISTENABILITY_HIGHER_IS_BETTER = {m: DIRECTION[m] for m in LISTENABILITY_METRICS}
FLOOR_DB = 80.0
# energies at or below this share of the target's count as silence (float32 audio has ~1e-14 noise)
_SILENT = 1e-12


def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.double().pow(2).sum(-1)


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB per row of [B, L] (float64; identical signals give ~200 dB, a silent estimate NaN)."""
    value = scale_invariant_signal_distortion_ratio(estimate.double(), reference.double(), zero_mean=True)
    # torchmetrics' eps guard scores an all-zero estimate ~0 dB, better than a poor one: no audio has no SDR
    silent = _energy(estimate) <= _SILENT * _energy(reference).clamp_min(torch.finfo(torch.float64).tiny)
    return torch.where(silent, torch.full_like(value, float("nan")), value)


def log_spectral_distance(
    frontend: FrontEnd, estimate: torch.Tensor, reference: torch.Tensor, floor_db: float = FLOOR_DB
) -> torch.Tensor:
    """LSD in dB per row of [B, L] on the front end's STFT grid (module docstring)."""
    # float32 is ample for dB differences bounded by floor_db
    power_est = frontend.magnitude(frontend.stft(estimate.float())).pow(2)
    power_ref = frontend.magnitude(frontend.stft(reference.float())).pow(2)
    floor = power_ref.flatten(1).amax(1).clamp_min(torch.finfo(power_ref.dtype).tiny) * 10 ** (-floor_db / 10)
    floor = floor[:, None, None]
    diff = 10 * torch.log10(power_est.clamp_min(floor) / power_ref.clamp_min(floor))
    return diff.pow(2).mean(-1).sqrt().mean(-1).double()


def energy_kept(
    estimate: torch.Tensor, target: torch.Tensor, interferer: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(a², b²) of the least-squares fit ŝ ≈ a·s + b·n per row of [B, L]; NaN where n or s is silent.

    The 2 × 2 normal equations solved by Cramer's rule (the same on every device; s and n of a
    contaminated input are never collinear, a degenerate pair gives NaN).
    """
    e, s, n = estimate.double(), target.double(), interferer.double()
    ss, nn, sn = _energy(s), _energy(n), (s * n).sum(-1)
    es, en = (e * s).sum(-1), (e * n).sum(-1)
    det = ss * nn - sn * sn
    a, b = (nn * es - sn * en) / det, (ss * en - sn * es) / det
    undefined = (nn == 0) | (ss == 0) | (det <= 1e-12 * ss * nn)
    nan = torch.full_like(b, float("nan"))
    return torch.where(undefined, nan, a.pow(2)), torch.where(undefined, nan, b.pow(2))


def listenability(
    frontend: FrontEnd, explanation: torch.Tensor, target: torch.Tensor, interferer: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Every column of :data:`LISTENABILITY_METRICS` for explanations, targets and interferers [B, L]."""
    no_target = (_energy(interferer) == 0) | (_energy(target) == 0)
    silent = _energy(explanation) <= _SILENT * _energy(target).clamp_min(torch.finfo(torch.float64).tiny)
    nan = torch.full(no_target.shape, float("nan"), dtype=torch.float64, device=no_target.device)
    target_kept, interferer_kept = energy_kept(explanation, target, interferer)
    return {
        "SI_SDR": torch.where(no_target, nan, si_sdr(explanation, target)),
        "LSD": torch.where(no_target, nan, log_spectral_distance(frontend, explanation, target)),
        "interferer_kept": interferer_kept,
        "target_kept": target_kept,
        "silent": torch.where(no_target, nan, silent.double()),
    }
