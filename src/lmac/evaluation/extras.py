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
STFTs per batch, small next to any explainer; :mod:`lmac.evaluation.scoring` shares what every
method of a batch has in common and batches the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import LmacError
from . import catalogue
from .scoring import reference, score_explanation

EXTRAS = catalogue.EXTRAS


def check_extras(extras: Sequence[str]) -> tuple[str, ...]:
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        raise LmacError(f"evaluation.extras: unknown value '{unknown[0]}' (known: {', '.join(EXTRAS)})")
    return tuple(e for e in EXTRAS if e in extras)


def extra_columns(extras: Sequence[str]) -> list[str]:
    """The per-sample columns ``extras`` add, in a fixed order (:data:`lmac.evaluation.catalogue.FAMILIES`)."""
    return list(catalogue.extra_columns(extras))


def extra_scores(extras, classifier, exp, wav, target, interferer, reference_logits, item_ids, seed, version):
    """{column: [B]} for the requested ``extras`` (a sequence of names) of one explanation ``exp`` by
    ``classifier`` (the evaluation scores them with the other metrics through
    :func:`lmac.evaluation.scoring.score_explanation`, sharing the reference).

    ``wav`` is the explained input [B, L], ``target``/``interferer`` its known components (zeros
    for no interferer), ``reference_logits`` the classifier on ``exp.logspec`` (the spectrogram-domain
    reference, shared with the fill operators), ``item_ids``/``seed``/``version`` seed the noise fill.
    """
    ref = reference(extras, classifier, exp.logspec, wav, item_ids, seed, version, logits=reference_logits)
    scores = score_explanation(extras, classifier, exp, wav, target, interferer, ref)
    return {column: scores[column] for column in extra_columns(extras)}
