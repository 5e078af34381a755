"""Per-clip faithfulness and complexity metrics, batched and torch-native (CPU or GPU).

Notation: p = softmax f(X) on the input, c = argmax p (the class explained), o = softmax f(X_in)
on the masked-in input, q = softmax f(X_out) on the masked-out input.

| metric | per clip                               | better |
|--------|----------------------------------------|--------|
| AI     | 100 · 1[o_c > p_c]                      | ↑ |
| AD     | 100 · max(0, p_c − o_c) / p_c           | ↓ |
| AD_ref | AD with softmax applied a second time to p and o, as the reference's ``compute_AD`` does; only for comparing with published AD | ↓ |
| AG     | 100 · max(0, o_c − p_c) / (1 − p_c)     | ↑ |
| FF     | p_c − q_c                               | ↑ |
| FidIn  | 1[argmax o = c]                         | ↑ |
| SPS    | Gini index of |mask| (+1e-7, sorted)   | ↑ |
| COMP   | entropy of |mask| / Σ|mask| (nats)     | ↓ |
| MM     | mean mask value                         | report next to AI/AD/AG (a large mask games them) |
"""

from __future__ import annotations

import torch

METRICS = ("AI", "AD", "AD_ref", "AG", "FF", "FidIn", "SPS", "COMP", "MM")
HIGHER_IS_BETTER = {"AI": True, "AD": False, "AD_ref": False, "AG": True, "FF": True, "FidIn": True,
                    "SPS": True, "COMP": False, "MM": None}


def _at(probs: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return probs.gather(1, c[:, None])[:, 0]


def faithfulness(logits: torch.Tensor, logits_in: torch.Tensor, logits_out: torch.Tensor,
                 target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    p, o, q = logits.softmax(-1), logits_in.softmax(-1), logits_out.softmax(-1)
    c = p.argmax(-1) if target is None else target
    pc, oc, qc = _at(p, c), _at(o, c), _at(q, c)
    p2, o2 = _at(p.softmax(-1), c), _at(o.softmax(-1), c)
    return {
        "AI": 100.0 * (oc > pc).float(),
        "AD": 100.0 * (pc - oc).clamp(min=0) / pc,
        "AD_ref": 100.0 * (p2 - o2).clamp(min=0) / p2,
        "AG": 100.0 * (oc - pc).clamp(min=0) / (1 - pc).clamp(min=1e-12),
        "FF": pc - qc,
        "FidIn": (o.argmax(-1) == c).float(),
    }


def sparseness(maps: torch.Tensor) -> torch.Tensor:
    """Gini index per map, as ``quantus.Sparseness(abs=True)``."""
    a = maps.flatten(1).abs().double() + 1e-7
    a, _ = a.sort(dim=1)
    d = a.shape[1]
    i = torch.arange(1, d + 1, device=a.device, dtype=a.dtype)
    return (((2 * i - d - 1) * a).sum(1) / (d * a.sum(1))).float()


def complexity(maps: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the normalised |map|, as ``quantus.Complexity(abs=True)``."""
    a = maps.flatten(1).abs().double()
    p = a / a.sum(1, keepdim=True)
    return -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(1).float()


def all_metrics(logits, logits_in, logits_out, mask, target=None) -> dict[str, torch.Tensor]:
    out = faithfulness(logits, logits_in, logits_out, target)
    out["SPS"] = sparseness(mask)
    out["COMP"] = complexity(mask)
    out["MM"] = mask.flatten(1).mean(1)
    return out
