r"""Scoring explanations: the classifier passes shared by methods, and one batched pass per explanation.

Every metric classifies log1p spectrograms with ``AudioClassifier.classify_logspec``. For a batch,
part of that work is the same for every method, as long as the method's ``exp.logspec`` is the
input's log-spectrogram X (every method computes it as ``frontend.log_spectrogram(wav)``; L-MAC
with ``frames: reference`` crops it, and then gets its own :class:`Reference`):

- f(X), the reference of every faithfulness metric and of the mean / noise fills;
- the heard input and f(heard input), the reference of the round-trip metrics;
- the fill values B of the masking operators (a clip's mean spectrum, seeded noise).

What depends on the explanation, its masked-in and masked-out spectrograms, their round-trip and
fill variants (:func:`masked_inputs`), goes through :func:`classify` as one concatenated forward
(on a CPU in chunks of ``max_rows``, where the cost per row grows with the batch): CNN14 in eval
mode treats the rows of a batch independently (BatchNorm uses its running statistics), so a row's
logits do not depend on the rows beside it (on CPU bit for bit). ``classify`` also skips rows
it already knows: a row equal to the same row of the reference's input takes the reference's
logits (a mask that keeps everything gets exactly f(X), so AI, a strict increase, counts no float
noise whatever the batch holds), and a tensor equal to an earlier one (LMAC-TD's heard masked-in
is its masked-in, both log1p|STFT(ŝ)|) is classified once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..classifier.model import AudioClassifier
from ..explainers.base import Explanation
from .listenability import listenability
from .metrics import FAITHFULNESS_METRICS, all_metrics, complexity, faithfulness, sparseness
from .operators import FILL_OPERATORS, fill, masked_pair
from .roundtrip import SUFFIX as ROUNDTRIP_SUFFIX
from .roundtrip import heard_explanation, heard_input

SIDES = ("in", "out")


@dataclass
class Reference:
    """What a batch's explanations are compared with, built from the input's log-spectrogram X [B, T, F]:
    f(X), the heard input and its logits (``roundtrip``), the operators' fills (``robustness``)."""

    logspec: torch.Tensor
    logits: torch.Tensor
    heard: torch.Tensor | None = None
    heard_logits: torch.Tensor | None = None
    fills: dict[str, torch.Tensor] = field(default_factory=dict)
    #: f(X) the faithfulness metrics compare with, when not ``logits`` (a cropped grid scored against the
    #: full input's decision, ``evaluation.cropped_p: full``); ``logits`` stays f(logspec) for :meth:`known`
    p_logits: torch.Tensor | None = None

    @property
    def p(self) -> torch.Tensor:
        return self.logits if self.p_logits is None else self.p_logits

    def known(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(spectrogram, logits) pairs :func:`classify` can take rows from."""
        pairs = [(self.logspec, self.logits)]
        return pairs + [(self.heard, self.heard_logits)] if self.heard is not None else pairs

    def matches(self, logspec: torch.Tensor) -> bool:
        """Whether an explanation's ``logspec`` is this X, so this reference is its own."""
        return logspec.shape == self.logspec.shape and torch.equal(logspec, self.logspec)


def reference(
    extras: Sequence[str],
    classifier: AudioClassifier,
    logspec: torch.Tensor,
    wav: torch.Tensor,
    item_ids: Sequence[str],
    seed: int,
    version: int,
    logits: torch.Tensor | None = None,
    max_rows: int | None = None,
) -> Reference:
    """The :class:`Reference` of log1p spectrograms [B, T, F] of ``wav`` [B, L] (``logits``: f(X), if known).

    ``item_ids`` / ``seed`` / ``version`` seed the noise fill (``lmac.evaluation.operators``).
    """
    specs = {} if logits is not None else {"input": logspec}
    heard = heard_input(classifier.frontend, wav, logspec) if "roundtrip" in extras else None
    if heard is not None:
        specs["heard"] = heard
    out = classify(classifier, specs, max_rows=max_rows)
    fills = {op: fill(op, logspec, item_ids, seed, version) for op in FILL_OPERATORS} if "robustness" in extras else {}
    return Reference(logspec, out["input"] if logits is None else logits, heard, out.get("heard"), fills)


def masked_inputs(
    extras: Sequence[str], classifier: AudioClassifier, exp: Explanation, wav: torch.Tensor, ref: Reference
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{column suffix: (masked-in, masked-out)} that one explanation's metrics classify: ``""`` the
    spectrogram-domain metrics, ``_rt`` the round trip, ``_mean`` / ``_noise`` the fill operators."""
    pairs = {"": (exp.masked_in, exp.masked_out)}
    if "roundtrip" in extras:
        pairs[ROUNDTRIP_SUFFIX] = heard_explanation(classifier.frontend, wav, exp.masked_out, exp.waveform)
    if "robustness" in extras:
        for op in FILL_OPERATORS:
            pairs[f"_{op}"] = masked_pair(exp.mask, exp.masked_in, exp.masked_out, ref.fills[op])
    return pairs


def score_explanation(
    extras: Sequence[str],
    classifier: AudioClassifier,
    exp: Explanation,
    wav: torch.Tensor,
    target: torch.Tensor,
    interferer: torch.Tensor,
    ref: Reference,
    max_rows: int | None = None,
    sps_comp_on: str = "mask",
) -> dict[str, torch.Tensor]:
    """{column: [B]}: every metric of :data:`~lmac.evaluation.metrics.METRICS` and the ``extras``' columns.

    SPS and COMP are computed on the map (``sps_comp_on: mask``) or, as PR #2838, on the masked-in
    spectrogram (``masked_in``: M·log1p|X| for L-MAC, log1p|STFT(i)| for LMAC-TD).

    ``wav`` is the explained input [B, L], ``target`` / ``interferer`` its known components (zeros
    for no interferer), ``ref`` the batch's reference (its ``logspec`` must be ``exp.logspec``).
    """
    pairs = masked_inputs(extras, classifier, exp, wav, ref)
    specs = {side + suffix: spec for suffix, pair in pairs.items() for side, spec in zip(SIDES, pair)}
    logits = classify(classifier, specs, ref.known(), max_rows)
    out = all_metrics(ref.p, logits["in"], logits["out"], exp.mask, exp.target)
    if sps_comp_on == "masked_in":
        out.update(SPS=sparseness(exp.masked_in), COMP=complexity(exp.masked_in))
    if "listenability" in extras:
        out.update(listenability(classifier.frontend, exp.waveform, target, interferer))
    for suffix in pairs:
        if suffix:
            base = ref.heard_logits if suffix == ROUNDTRIP_SUFFIX else ref.p
            scores = faithfulness(base, logits["in" + suffix], logits["out" + suffix], exp.target)
            out.update({m + suffix: scores[m] for m in FAITHFULNESS_METRICS})
    return out


# -- batched classification ----------------------------------------------------------------------


def _same_rows(spec: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """bool [B]: rows of ``spec`` identical to the same row of ``other`` (none for another grid)."""
    if spec.shape != other.shape:
        return torch.zeros(spec.shape[0], dtype=torch.bool, device=spec.device)
    same = (spec[:, :1] == other[:, :1]).flatten(1).all(1)  # the first frame rules most rows out cheaply
    if bool(same.any()):
        same[same.clone()] = (spec[same] == other[same]).flatten(1).all(1)
    return same


def _known_rows(spec: torch.Tensor, known: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    """(bool [B]: the rows left to classify, [(row mask, logits of those rows)] taken from ``known``)."""
    free = torch.ones(spec.shape[0], dtype=torch.bool, device=spec.device)
    taken = []
    for other, logits in known:
        hit = _same_rows(spec, other) & free
        if bool(hit.any()):
            taken.append((hit, logits[hit]))
            free &= ~hit
    return free, taken


def _duplicate(spec: torch.Tensor, earlier: dict[str, torch.Tensor]) -> str | None:
    """The name of an earlier tensor equal to ``spec``, if any."""
    for name, other in earlier.items():
        # the first row rules most candidates out before a full comparison
        if other.shape == spec.shape and torch.equal(other[0], spec[0]) and torch.equal(other, spec):
            return name
    return None


def classify(
    classifier: AudioClassifier,
    specs: dict[str, torch.Tensor],
    known: Sequence[tuple[torch.Tensor, torch.Tensor]] = (),
    max_rows: int | None = None,
) -> dict[str, torch.Tensor]:
    """{name: logits [B, C]} of log1p spectrograms {name: [B, T, F]}, ``known`` (spectrogram, logits)
    pairs giving the rows they hold (module docstring); the rest are classified in one forward per
    grid shape, in chunks of ``max_rows`` rows if given."""
    aliases: dict[str, str | None] = {}
    plans = {}  # name -> (rows to classify, rows taken from known)
    for name, spec in specs.items():
        aliases[name] = _duplicate(spec, {n: specs[n] for n in plans})
        if aliases[name] is None:
            plans[name] = _known_rows(spec, known)
    rows = {n: specs[n] if bool(free.all()) else specs[n][free] for n, (free, _) in plans.items()}
    computed = _classify_rows(classifier, rows, max_rows)
    out = {n: _assemble([(free, computed[n]), *taken]) for n, (free, taken) in plans.items()}
    return {name: out[aliases[name] or name] for name in specs}


def _assemble(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Logits [B, C] from (row mask [B], logits of those rows) parts that cover every row."""
    values = [v for _, v in parts if v.numel()]
    if not values:
        return torch.empty((0, 0))
    logits = values[0].new_empty((parts[0][0].shape[0], values[0].shape[-1]))
    for rows, v in parts:
        if v.numel():
            logits[rows] = v
    return logits


def _classify_rows(
    classifier: AudioClassifier, rows: dict[str, torch.Tensor], max_rows: int | None
) -> dict[str, torch.Tensor]:
    """{name: logits} of {name: [n, T, F]}, concatenating the tensors of each grid shape."""
    out: dict[str, torch.Tensor] = {}
    for shape in {tuple(r.shape[1:]) for r in rows.values()}:
        names = [n for n, r in rows.items() if tuple(r.shape[1:]) == shape and len(r)]
        if names:
            batch = rows[names[0]] if len(names) == 1 else torch.cat([rows[n] for n in names])
            chunks = batch.split(max_rows) if max_rows else (batch,)
            logits = torch.cat([classifier.classify_logspec(chunk) for chunk in chunks])
            out.update(zip(names, logits.split([len(rows[n]) for n in names])))
    return {n: out.get(n, r.new_empty((0, 0))) for n, r in rows.items()}
