"""The evaluation's optional per-clip scores beyond the papers (``evaluation.extras``).

- ``listenability``: SI_SDR, LSD, interferer_kept, silent of the listenable explanation against the
  clean target (:mod:`lmac.evaluation.listenability`);
- ``roundtrip``: the faithfulness metrics on resynthesised audio, suffix ``_rt``
  (:mod:`lmac.evaluation.roundtrip`);
- ``robustness``: the faithfulness metrics with the removed content filled by the clip's mean
  spectrum or matched noise instead of zeros, suffixes ``_mean`` and ``_noise``
  (:mod:`lmac.evaluation.operators`).

They read only the :class:`~lmac.explainers.base.Explanation` fields and the condition's known
components, so every method goes through the same code. Each costs a few classifier passes and
STFTs per batch, small next to any explainer.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..classifier.model import AudioClassifier
from ..errors import LmacError
from ..explainers.base import Explanation
from .listenability import LISTENABILITY_METRICS, listenability
from .metrics import FAITHFULNESS_METRICS, faithfulness
from .operators import FILL_OPERATORS, fill, masked_pair
from .roundtrip import SUFFIX as ROUNDTRIP_SUFFIX
from .roundtrip import heard_logspecs

EXTRAS = ("listenability", "roundtrip", "robustness")


def check_extras(extras: Sequence[str]) -> tuple[str, ...]:
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        raise LmacError(f"evaluation.extras: unknown value '{unknown[0]}' (known: {', '.join(EXTRAS)})")
    return tuple(e for e in EXTRAS if e in extras)


def extra_columns(extras: Sequence[str]) -> list[str]:
    """The per-sample columns ``extras`` add, in a fixed order."""
    columns: list[str] = []
    if "listenability" in extras:
        columns += LISTENABILITY_METRICS
    if "roundtrip" in extras:
        columns += [m + ROUNDTRIP_SUFFIX for m in FAITHFULNESS_METRICS]
    if "robustness" in extras:
        columns += [f"{m}_{op}" for op in FILL_OPERATORS for m in FAITHFULNESS_METRICS]
    return columns


def extra_scores(extras: Sequence[str], classifier: AudioClassifier, exp: Explanation, wav: torch.Tensor,
                 target: torch.Tensor, interferer: torch.Tensor, reference_logits: torch.Tensor,
                 item_ids: Sequence[str], seed: int, version: int) -> dict[str, torch.Tensor]:
    """{column: [B]} for the requested extras.

    ``wav`` is the explained input [B, L], ``target``/``interferer`` its known components (zeros
    for no interferer), ``reference_logits`` the classifier on ``exp.logspec`` (the spectrogram-domain
    reference, shared with the fill operators), ``item_ids``/``seed``/``version`` seed the noise fill.
    """
    out: dict[str, torch.Tensor] = {}
    fe = classifier.frontend
    if "listenability" in extras:
        out.update(listenability(fe, exp.waveform, target, interferer))
    if "roundtrip" in extras:
        heard_input, heard_in, heard_out = heard_logspecs(fe, wav, exp.logspec, exp.masked_out, exp.waveform)
        scores = faithfulness(classifier.classify_logspec(heard_input), classifier.classify_logspec(heard_in),
                              classifier.classify_logspec(heard_out), exp.target)
        out.update({m + ROUNDTRIP_SUFFIX: scores[m] for m in FAITHFULNESS_METRICS})
    if "robustness" in extras:
        for op in FILL_OPERATORS:
            value = fill(op, exp.logspec, item_ids, seed, version)
            masked_in, masked_out = masked_pair(exp.mask, exp.masked_in, exp.masked_out, value)
            scores = faithfulness(reference_logits, classifier.classify_logspec(masked_in),
                                  classifier.classify_logspec(masked_out), exp.target)
            out.update({f"{m}_{op}": scores[m] for m in FAITHFULNESS_METRICS})
    return out
