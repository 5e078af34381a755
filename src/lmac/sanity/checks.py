"""The three sanity checks for one explanation method, scored clip by clip.

Every explanation comes from :func:`lmac.explainers.registry.build_explainer` /
:func:`~lmac.explainers.registry.load_explainer`, so nothing here depends on the method. What
differs between learned methods and baselines is only whether the job has checkpoints: with a
trained checkpoint the explainer's decoder is ``fixed`` (the trained one, run on the randomised
classifier's representations, as the L-MAC papers did) or ``retrained`` (a fresh decoder
trained on the randomised classifier by the package's own trainer); without one the method has
no decoder (``none``) and is simply re-run on the randomised classifier.

The reference explanation is the method's explanation by the trained classifier for its
predicted class on each clean clip. A fresh explainer is built for every pass, so seeded
methods (SmoothGrad, SHAP, random) draw the same noise in every pass and differences come from
the model alone; a method whose map does not depend on the model (all_ones, random with its
fixed seed) therefore scores similarity 1 and fails the checks, as it should.

One job (:func:`run_checks`) runs all three on the same clips and shares the reference:

- **Cascading** (:func:`cascading`): for each step of :mod:`.randomise` the explanation of the
  randomised classifier for the *original* predicted class (the class semantics are what the
  weights destroyed, the question asked stays the same), compared with the reference. Step 0 is
  the reference itself (1 by definition) for fixed/none; retrained decoders may be retrained at
  step 0 too, which measures what retraining alone (fewer epochs) changes.
- **Data randomisation** (:func:`data_randomisation`): the explanation of the classifier
  trained on permuted labels, for *its own* predicted class (its classes mean something else),
  against the reference.
- **Random logit** (:func:`random_logit`): the explanation for a random other class
  (seeded per clip) against the one for the predicted class. Methods whose explanation does not
  take a class (``Explainer.class_conditional`` false: L-MAC's and LMAC-TD's decoders always
  explain the prediction; all_ones and random ignore it) get ``applicable = False`` rows with
  the reason and no score, rather than a trivially perfect similarity of 1.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pandas as pd
import torch

from ..classifier.model import AudioClassifier, load_classifier
from ..compute import REFERENCE, Compute
from ..data.batches import Split, split
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..explainers.base import Explainer
from ..explainers.registry import build_explainer, load_explainer
from ..io import write_csv
from ..training import format_duration, pick_device
from .randomise import N_STEPS, block_name, randomised_classifier
from .similarity import SCORES, Reference

log = logging.getLogger("lmac.sanity")

NOT_CLASS_CONDITIONAL = (
    "not applicable: the explanation does not take a class (the method always "
    "explains the classifier's predicted class, or ignores the class)"
)


@dataclasses.dataclass
class SanityJob:
    """One method's sanity checks; the workflow fills it from ``config.sanity``."""

    method: str
    seed: int  # run seed: re-initialisation draws, random classes
    split: str = "test"
    n_clips: int | None = None  # evenly spaced clips of the split; None = all
    batch_size: int = 16
    explainer_path: str | None = None  # learned methods: the trained checkpoint
    retrained: dict[int, str] = dataclasses.field(default_factory=dict)  # step -> retrained decoder
    cascade_steps: tuple[int, ...] | None = None  # fixed/none-decoder cascading steps; None = every step
    settings: dict = dataclasses.field(default_factory=dict)  # baselines' settings
    compute: Compute = REFERENCE  # how the device computes the explanations (lmac.compute)

    @classmethod
    def from_config(
        cls,
        config: dict,
        method: str,
        seed: int,
        *,
        explainer_path: str | None = None,
        retrained: dict[int, str] | None = None,
    ) -> SanityJob:
        sanity = config["sanity"]
        return cls(
            method=method,
            seed=int(seed),
            split=sanity["split"],
            n_clips=sanity["n_clips"],
            batch_size=sanity["batch_size"],
            explainer_path=explainer_path,
            retrained={int(k): v for k, v in (retrained or {}).items()},
            cascade_steps=tuple(sanity["cascade_steps"]) if sanity.get("cascade_steps") else None,
            settings=config.get("baselines", {}).get(method, {}),
            compute=Compute.from_config(config.get("compute")),
        )

    @property
    def decoder(self) -> str:
        """``fixed`` when the method has a trained checkpoint, else ``none``."""
        return "fixed" if self.explainer_path else "none"

    def explainer(self, classifier: AudioClassifier, checkpoint: str | None = None) -> Explainer:
        if checkpoint is not None:
            return load_explainer(checkpoint, classifier)
        return build_explainer(self.method, classifier, self.explainer_path, self.settings)


def evenly_spaced(data: Split, n: int | None) -> Split:
    """``n`` clips spread evenly over the split (all when ``n`` is None or not smaller)."""
    if n is None or n >= len(data):
        return data
    if n < 1:
        raise LmacError(f"sanity.n_clips: must be at least 1, got {n}")
    pick = np.unique(np.linspace(0, len(data) - 1, n).round().astype(int))
    return dataclasses.replace(data, rows=data.rows[pick], labels=data.labels[pick], ids=[data.ids[i] for i in pick])


def predict(classifier: AudioClassifier, data: Split, batch_size: int, device: torch.device) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([classifier(wav.to(device))[0].argmax(-1).cpu() for wav, _, _ in data.batches(batch_size)])


def explain_maps(
    explainer: Explainer,
    data: Split,
    targets: torch.Tensor,
    batch_size: int,
    device: torch.device,
    compute: Compute = REFERENCE,
) -> np.ndarray:
    """The explanation maps [N, T, F] (float32) of every clip of ``data`` for ``targets``."""
    maps, done = [], 0
    for wav, _, _ in data.batches(batch_size):
        target = targets[done : done + len(wav)].to(device)
        exp = compute.explained(device, explainer.explain, wav.to(device), target)
        maps.append(exp.mask.detach().float().cpu().numpy())
        done += len(wav)
    return np.concatenate(maps)


def _rows(base: dict, ids: list[str], scores: dict[str, np.ndarray], **per_clip: list) -> list[dict]:
    return [
        {**base, "id": clip, **{k: v[i] for k, v in per_clip.items()}, **{s: float(scores[s][i]) for s in SCORES}}
        for i, clip in enumerate(ids)
    ]


def other_classes(predicted: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """A uniformly drawn class other than the predicted one, per clip, seeded by ``seed``."""
    if n_classes < 2:
        raise LmacError("the random-logit check needs at least two classes")
    shift = np.random.default_rng([int(seed), 0x10617]).integers(1, n_classes, size=len(predicted))
    return (np.asarray(predicted) + shift) % n_classes


@dataclasses.dataclass
class Context:
    """What every check of one job shares: the clips, the trained classifier, its predictions and
    the reference explanations (computed once)."""

    device: torch.device
    data: Split
    classes: list[str]
    classifier: AudioClassifier
    targets: torch.Tensor
    reference: Reference
    class_conditional: bool
    compute: Compute = REFERENCE

    @classmethod
    def load(cls, prepared_dir: str, classifier_path: str, job: SanityJob, device: str = "auto") -> Context:
        dev = pick_device(device)
        audio, manifest, classes = load_prepared(prepared_dir)
        data = evenly_spaced(split(audio, manifest, job.split), job.n_clips)
        classifier = load_classifier(classifier_path, dev)
        targets = predict(classifier, data, job.batch_size, dev)
        explainer = job.explainer(classifier)
        reference = Reference(explain_maps(explainer, data, targets, job.batch_size, dev, job.compute))
        return cls(dev, data, classes, classifier, targets, reference, explainer.class_conditional, job.compute)

    def compare(
        self,
        job: SanityJob,
        classifier: AudioClassifier,
        checkpoint: str | None = None,
        targets: torch.Tensor | None = None,
    ) -> dict[str, np.ndarray]:
        """Scores against the reference of ``job``'s explainer on ``classifier`` (``checkpoint``'s
        decoder when given) for ``targets`` (default: the trained classifier's predictions)."""
        explainer = job.explainer(classifier, checkpoint)
        targets = self.targets if targets is None else targets
        maps = explain_maps(explainer, self.data, targets, job.batch_size, self.device, self.compute)
        return self.reference.compare(maps)


def cascading(ctx: Context, job: SanityJob) -> pd.DataFrame:
    """Cascading randomisation: fixed/none at every step of ``job.cascade_steps`` (default all), retrained at
    ``job.retrained``'s steps."""
    t0 = time.monotonic()
    base = {"method": job.method, "seed": job.seed}
    rows = _rows(
        {**base, "decoder": job.decoder, "step": 0, "block": block_name(0)},
        ctx.data.ids,
        ctx.reference.compare(ctx.reference.maps),
    )
    steps = sorted(set(job.cascade_steps)) if job.cascade_steps else range(1, N_STEPS + 1)
    passes = [(step, job.decoder, None) for step in steps]
    passes += [(step, "retrained", path) for step, path in sorted(job.retrained.items())]
    for i, (step, decoder, checkpoint) in enumerate(passes, start=1):
        scores = ctx.compare(job, randomised_classifier(ctx.classifier, step, job.seed), checkpoint)
        rows += _rows({**base, "decoder": decoder, "step": step, "block": block_name(step)}, ctx.data.ids, scores)
        log.info(
            "%s cascading %d/%d: step %d (%s), decoder %s: Spearman %.3f, SSIM %.3f | elapsed %s",
            job.method,
            i,
            len(passes),
            step,
            block_name(step),
            decoder,
            scores["spearman"].mean(),
            scores["ssim"].mean(),
            format_duration(time.monotonic() - t0),
        )
    return pd.DataFrame(rows)


def random_logit(ctx: Context, job: SanityJob) -> pd.DataFrame:
    """The explanation for a seeded random other class against the predicted class's, per clip."""
    other = other_classes(ctx.targets.numpy(), len(ctx.classes), job.seed)
    base = pd.DataFrame(
        {
            "method": job.method,
            "seed": job.seed,
            "decoder": job.decoder,
            "id": ctx.data.ids,
            "predicted": [ctx.classes[int(c)] for c in ctx.targets],
            "other": [ctx.classes[int(c)] for c in other],
        }
    )
    if not ctx.class_conditional:
        log.info("%s random logit: %s", job.method, NOT_CLASS_CONDITIONAL)
        return base.assign(applicable=False, spearman=np.nan, ssim=np.nan, note=NOT_CLASS_CONDITIONAL)
    scores = ctx.compare(job, ctx.classifier, targets=torch.from_numpy(other))
    log.info("%s random logit: Spearman %.3f, SSIM %.3f", job.method, scores["spearman"].mean(), scores["ssim"].mean())
    return base.assign(applicable=True, **scores, note="")


def data_randomisation(
    ctx: Context, job: SanityJob, permuted_path: str, retrained_path: str | None = None
) -> pd.DataFrame:
    """The permuted-label classifier's explanations (the trained decoder ``fixed`` / ``none`` and,
    with ``retrained_path``, a decoder trained on it), for its own predictions, against the reference."""
    permuted = load_classifier(permuted_path, ctx.device)
    if permuted.classes != ctx.classifier.classes:
        raise LmacError(f"{permuted_path}: classes differ from the trained classifier's")
    permuted_targets = predict(permuted, ctx.data, job.batch_size, ctx.device)
    base = {"method": job.method, "seed": job.seed, "classifier": "permuted"}
    predicted = {
        "predicted": [ctx.classes[int(c)] for c in ctx.targets],
        "predicted_permuted": [ctx.classes[int(c)] for c in permuted_targets],
    }
    rows = []
    for decoder, checkpoint in [(job.decoder, None)] + ([("retrained", retrained_path)] if retrained_path else []):
        scores = ctx.compare(job, permuted, checkpoint, permuted_targets)
        rows += _rows({**base, "decoder": decoder}, ctx.data.ids, scores, **predicted)
        log.info(
            "%s data randomisation, decoder %s: Spearman %.3f, SSIM %.3f",
            job.method,
            decoder,
            scores["spearman"].mean(),
            scores["ssim"].mean(),
        )
    return pd.DataFrame(rows)


def run_checks(
    prepared_dir: str,
    classifier_path: str,
    job: SanityJob,
    outputs: dict[str, str],
    permuted: tuple[str, str | None] | None = None,
    device: str = "auto",
) -> dict[str, pd.DataFrame]:
    """Every check for one method and seed, sharing the reference explanations; per-clip CSVs.

    ``outputs``: check name (cascading, random_logit, data_randomisation) -> its CSV; ``permuted``:
    the permuted-label classifier and the decoder retrained on it (or None), which data randomisation needs.
    """
    if ("data_randomisation" in outputs) != (permuted is not None):
        raise LmacError("data randomisation needs both its output and the permuted-label classifier")
    with job.compute.applied(pick_device(device)):
        ctx = Context.load(prepared_dir, classifier_path, job, device)
        frames = {"cascading": cascading(ctx, job), "random_logit": random_logit(ctx, job)}
        if permuted is not None:
            frames["data_randomisation"] = data_randomisation(ctx, job, *permuted)
    for name, frame in frames.items():
        write_csv(outputs[name], frame)
    return frames
