"""Run explainers under one input condition and score every evaluated item.

The explainer is reached only through :class:`lmac.explainers.base.Explainer`, so this code is
the same for every method, learned or gradient-based. An item is a clip of the evaluated split
under one version of a condition (``lmac.evaluation.conditions``): what a clip gets depends only
on (seed, condition, version, clip id), so every method is scored on identical inputs.

The class explained is the classifier's decision on the (contaminated) input, as the reference;
the metrics compare f(masked-in) and f(masked-out) with f(input), all three classified from the
explanation's log-spectrograms through ``classify_logspec``.
Outputs per method: one CSV row per item (id, version, label, prediction, every faithfulness/complexity
metric, every localisation metric against the item's ground-truth region, the ``extras`` columns of
:mod:`lmac.evaluation.extras` (listenability, round trip, masking operators), explanation time) and
an npz with the first ``keep_examples`` items' spectrograms, masks, inputs, clean targets and
listenable explanations for figures; with ``keep_all_masks`` every item's mask (float16).

:func:`evaluate_methods` evaluates several methods in one pass over the data (the workflow's
``evaluation.group: condition``): the data, the classifier and the condition's interferers are
loaded or synthesised once, and per batch what every method shares (the explained class, the
reference logits, the round trip's heard input, the fills, the ground truth:
:mod:`lmac.evaluation.scoring`) is computed once. Each method's rows are those :func:`evaluate`
writes for it alone, except ``explain_s``: per-item draws are seeded by item, each explainer keeps
its own call count, and a method's classifier passes never include another method's inputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import torch

from ..classifier.model import AudioClassifier, load_classifier
from ..compute import REFERENCE, Compute
from ..data.batches import Split, split
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..explainers.base import Explainer, Explanation
from ..explainers.registry import build_explainer, is_learned
from ..io import save_npz, write_csv
from ..training import format_duration, pick_device
from .conditions import Condition, Contaminated, make_condition
from .extras import EXTRAS, check_extras, extra_columns
from .localisation import LOCALISATION_METRICS, ground_truth, load_event_masks, localisation_metrics, stack_event_masks
from .metrics import METRICS
from .scoring import Reference, reference, score_explanation
from .sources import interferer_sources

log = logging.getLogger("lmac.evaluation")


@dataclass
class EvalJob:
    """What to evaluate and how; the workflow fills it from ``config.evaluation``."""

    method: str
    condition: str = "clean"
    split: str = "test"
    batch_size: int = 16
    versions: int = 2
    peak: str = "signed"
    mixture_pool: str = "valid"
    iou_threshold: float = 0.5
    seed: int = 1234
    keep_examples: int = 3
    keep_all_masks: bool = False
    explainer_path: str | None = None  # learned methods: the trained checkpoint
    settings: dict = field(default_factory=dict)  # baselines: step/sample counts
    event_masks: str | None = None  # the dataset's ground-truth event masks, if it has them
    noise_source: object = None  # in_domain: anything with sample(length, generator)
    speech_source: object = None  # speech: the same protocol
    extras: tuple = EXTRAS  # listenability, roundtrip, robustness (lmac.evaluation.extras)
    # p for a map on a cropped grid (L-MAC with frames: reference): "cropped", the classifier on the same
    # cropped spectrogram, or "full", on the whole input as the reference
    cropped_p: str = "cropped"
    distinct_interferers: bool = False  # mixture: a clip's versions mix in distinct pool clips (the reference)
    sps_comp_on: str = "mask"  # or masked_in: SPS/COMP on the masked-in spectrogram, as PR #2838
    compute: Compute = REFERENCE  # how the device computes the explanations (lmac.compute); scoring stays fp32

    @classmethod
    def from_config(
        cls,
        config: dict,
        method: str,
        condition: str,
        *,
        explainer_path: str | None = None,
        event_masks: str | None = None,
        wham_dir: str | None = None,
        ljspeech_dir: str | None = None,
        split: str | None = None,
    ) -> EvalJob:
        """The job the workflow runs for (method, condition), from the validated config."""
        ev = config["evaluation"]
        noise, speech = interferer_sources(condition, config, wham_dir, ljspeech_dir)
        return cls(
            method=method,
            condition=condition,
            split=split or ev["split"],
            batch_size=ev["batch_size"],
            versions=ev["versions"],
            peak=ev["peak"],
            mixture_pool=ev["mixture_pool"],
            iou_threshold=ev["iou_threshold"],
            seed=config["seed"],
            keep_examples=config["report"]["n_examples"],
            keep_all_masks=condition in ev["keep_masks"],
            explainer_path=explainer_path,
            settings=config.get("baselines", {}).get(method, {}),
            event_masks=event_masks,
            noise_source=noise,
            speech_source=speech,
            extras=tuple(ev.get("extras", EXTRAS)),
            cropped_p=ev.get("cropped_p", "cropped"),
            distinct_interferers=ev.get("distinct_interferers", False),
            sps_comp_on=ev.get("sps_comp_on", "mask"),
            compute=Compute.from_config(config.get("compute")),
        )

    @classmethod
    def group_from_config(
        cls,
        config: dict,
        methods: Sequence[str],
        condition: str,
        *,
        explainer_paths: dict[str, str] | None = None,
        **kw,
    ) -> list[EvalJob]:
        """The jobs of ``methods`` on one condition, for :func:`evaluate_methods`: one interferer
        source shared by all (``kw``: the other arguments of :meth:`from_config`)."""
        paths = explainer_paths or {}
        first = cls.from_config(config, methods[0], condition, explainer_path=paths.get(methods[0]), **kw)
        return [
            replace(first, method=m, explainer_path=paths.get(m), settings=config.get("baselines", {}).get(m, {}))
            for m in methods
        ]


def learned_checkpoints(methods: Sequence[str], checkpoints: Sequence[str]) -> dict[str, str]:
    """{method: checkpoint} for the learned ``methods``, whose checkpoints are given in their order."""
    learned = [m for m in methods if is_learned(m)]
    if len(checkpoints) != len(learned):
        raise LmacError(
            f"evaluation: {len(checkpoints)} explainer checkpoint(s) for {len(learned)} learned "
            f"method(s) ({', '.join(learned) or 'none'}): give one per learned method, in their order"
        )
    return dict(zip(learned, map(str, checkpoints)))


# what may differ between the jobs evaluated together; the sources must be the same objects
PER_METHOD = ("method", "explainer_path", "settings")
SOURCES = ("noise_source", "speech_source")


def check_group(jobs: Sequence[EvalJob]) -> EvalJob:
    """The settings ``jobs`` share (the first job); ``LmacError`` if they differ in more than the method."""
    if not jobs:
        raise LmacError("evaluation: no method to evaluate")
    methods = [job.method for job in jobs]
    if len(set(methods)) < len(methods):
        raise LmacError(f"evaluation: a method is listed twice ({', '.join(methods)})")
    for f in fields(EvalJob):
        if f.name in PER_METHOD:
            continue
        first = getattr(jobs[0], f.name)
        if not all(
            getattr(job, f.name) is first if f.name in SOURCES else getattr(job, f.name) == first for job in jobs
        ):
            raise LmacError(
                f"evaluation: the methods evaluated together differ in '{f.name}' "
                f"(only {', '.join(PER_METHOD)} may differ)"
            )
    return jobs[0]


def evaluate(
    prepared_dir: str, classifier_path: str, job: EvalJob, out_csv: str, out_npz: str, device: str = "auto"
) -> pd.DataFrame:
    """Evaluate one method (:func:`evaluate_methods` with one job); return its rows."""
    return evaluate_methods(prepared_dir, classifier_path, [job], [(out_csv, out_npz)], device)[0]


def evaluate_methods(
    prepared_dir: str,
    classifier_path: str,
    jobs: Sequence[EvalJob],
    outputs: Sequence[tuple[str, str]],
    device: str = "auto",
) -> list[pd.DataFrame]:
    """Evaluate every job's method in one pass (module docstring); write each job's (CSV, npz) of
    ``outputs`` and return its rows. The jobs differ only in method, checkpoint and settings."""
    shared = check_group(jobs)
    if len(outputs) != len(jobs):
        raise LmacError(f"evaluation: {len(jobs)} methods but {len(outputs)} output pairs")
    run = _Run.load(prepared_dir, classifier_path, shared, pick_device(device))
    explainers = [build_explainer(job.method, run.classifier, job.explainer_path, job.settings) for job in jobs]
    shared.compute.compiled(run.classifier.net)
    results = [_MethodResults(job, run) for job in jobs]
    label = shared.method if len(jobs) == 1 else f"{len(jobs)} methods"
    n_batches, t0 = run.n_batches(), time.monotonic()
    with shared.compute.applied(run.device):
        for b, batch in enumerate(run.batches(), 1):
            for explainer, result in zip(explainers, results):
                exp, seconds = run.explain(explainer, batch)
                result.add(batch, exp, run.score(exp, batch), seconds)
            if b == n_batches or b % 10 == 0:
                elapsed = time.monotonic() - t0
                log.info(
                    "%s/%s: batch %d/%d | elapsed %s ETA %s",
                    label,
                    shared.condition,
                    b,
                    n_batches,
                    format_duration(elapsed),
                    format_duration(elapsed / b * (n_batches - b)),
                )
    return [result.write(csv, npz) for result, (csv, npz) in zip(results, outputs)]


@dataclass
class _Batch:
    """One batch of items under the condition, and what every method's scores share."""

    version: int
    ids: list[str]  # the clips' manifest ids
    labels: torch.Tensor
    item: Contaminated  # on the CPU, for the examples
    x: torch.Tensor  # the explained input, on the device
    target: torch.Tensor  # item.target and item.interferer on the device
    interferer: torch.Tensor
    predicted: torch.Tensor  # the classifier's decision on x: the class every method explains
    ref: Reference
    gt: torch.Tensor  # localisation ground truth


@dataclass
class _Run:
    """The data, classifier and condition of one evaluation, and the per-batch work of every method."""

    job: EvalJob
    device: torch.device
    data: Split
    classes: list[str]
    classifier: AudioClassifier
    condition: Condition
    event_masks: dict | None

    @classmethod
    def load(cls, prepared_dir: str, classifier_path: str, job: EvalJob, device: torch.device) -> _Run:
        check_extras(job.extras)
        audio, manifest, classes = load_prepared(prepared_dir)
        pool = split(audio, manifest, job.mixture_pool) if job.condition == "mixture" else None
        condition = make_condition(
            # clean and in_domain have one version per clip (as the reference); versions applies to OOD conditions
            job.condition,
            seed=job.seed,
            versions=None if job.condition in ("clean", "in_domain") else job.versions,
            noise_source=job.noise_source,
            speech_source=job.speech_source,
            peak=job.peak,
            pool=torch.from_numpy(np.ascontiguousarray(pool.audio[pool.rows])) if pool is not None else None,
            pool_ids=pool.ids if pool is not None else None,
            distinct=job.distinct_interferers,
        )
        return cls(
            job,
            device,
            split(audio, manifest, job.split),
            classes,
            load_classifier(classifier_path, device),
            condition,
            load_event_masks(job.event_masks) if job.event_masks else None,
        )

    @property
    def max_rows(self) -> int | None:
        # one forward per explanation on a GPU; on CPU the per-row cost grows past ~16 rows (cache:
        # 2.2 ms per row at 16 rows, 4.5 ms at 128 for the embedded CNN14), so chunks of a batch
        return None if self.device.type == "cuda" else self.job.batch_size

    def n_batches(self) -> int:
        return self.data.n_batches(self.job.batch_size) * self.condition.versions

    def items(self) -> Iterator[tuple[int, Contaminated, torch.Tensor, list[str]]]:
        """The evaluated items under the condition, on the CPU: what the background thread makes (lmac.compute)."""
        for version in range(self.condition.versions):
            for wav, labels, pick in self.data.batches(self.job.batch_size):
                ids = [self.data.ids[i] for i in pick]
                yield version, self.condition.apply(wav, ids, version), labels, ids

    def batches(self) -> Iterator[_Batch]:
        for version, item, labels, ids in self.job.compute.batches(self.items(), self.device):
            yield self.batch(version, item, labels, ids)

    def batch(self, version: int, item: Contaminated, labels: torch.Tensor, ids: list[str]) -> _Batch:
        job, clf, dev, to = self.job, self.classifier, self.device, self.job.compute.to
        x, target, interferer = to(item.wav, dev), to(item.target, dev), to(item.interferer, dev)
        with torch.no_grad():
            predicted = clf(x)[0].argmax(-1)
            ref = reference(
                job.extras, clf, clf.frontend.log_spectrogram(x), x, ids, job.seed, version, max_rows=self.max_rows
            )
            events = stack_event_masks(self.event_masks, ids).to(dev) if self.event_masks is not None else None
            gt = ground_truth(clf.frontend, target, interferer, events)
        return _Batch(version, ids, labels, item, x, target, interferer, predicted, ref, gt)

    def explain(self, explainer: Explainer, batch: _Batch) -> tuple[Explanation, float]:
        """The explanation of ``batch`` and its time per item in seconds."""
        start = time.perf_counter()
        target = explainer.decision(batch.x, batch.predicted)
        exp = self.job.compute.explained(self.device, explainer.explain, batch.x, target)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return exp, (time.perf_counter() - start) / len(batch.ids)

    def score(self, exp: Explanation, batch: _Batch) -> dict[str, torch.Tensor]:
        """Every metric column for one explanation of ``batch``."""
        job = self.job
        with torch.no_grad():
            # a method whose logspec is not the input's (a cropped grid) gets its own reference; its p
            # comes from that cropped spectrogram, or (cropped_p: full) from the whole input's
            ref = (
                batch.ref
                if batch.ref.matches(exp.logspec)
                else reference(
                    job.extras,
                    self.classifier,
                    exp.logspec,
                    batch.x,
                    batch.ids,
                    job.seed,
                    batch.version,
                    max_rows=self.max_rows,
                )
            )
            if ref is not batch.ref and job.cropped_p == "full":
                ref = replace(ref, p_logits=batch.ref.logits)
            scores = score_explanation(
                job.extras,
                self.classifier,
                exp,
                batch.x,
                batch.target,
                batch.interferer,
                ref,
                self.max_rows,
                job.sps_comp_on,
            )
            scores.update(localisation_metrics(exp.mask, batch.gt, job.iou_threshold))
        return scores


class _MethodResults:
    """One method's rows, kept masks and examples, and writing them."""

    def __init__(self, job: EvalJob, run: _Run):
        self.job, self.run = job, run
        self.columns = [*METRICS, *LOCALISATION_METRICS, *extra_columns(check_extras(job.extras))]
        self.rows: list[dict] = []
        self.masks: list[np.ndarray] = []
        self.examples: dict[str, list] = {"mask": [], "logspec": [], "waveform": [], "input": [], "target": []}
        self.example_ids: list[str] = []

    def add(self, batch: _Batch, exp: Explanation, scores: dict[str, torch.Tensor], seconds: float) -> None:
        job, classes = self.job, self.run.classes
        for i, clip in enumerate(batch.ids):
            label = int(batch.labels[i])
            self.rows.append(
                {
                    "id": clip,
                    "version": batch.version,
                    "seed": job.seed,
                    "condition": job.condition,
                    "method": job.method,
                    "split": job.split,
                    "label": classes[label],
                    "predicted": classes[int(exp.target[i])],
                    "correct": label == int(exp.target[i]),
                    **{m: float(scores[m][i]) for m in self.columns},
                    "explain_s": seconds,
                }
            )
        if job.keep_all_masks:
            self.masks.extend(exp.mask.cpu().half().numpy())
        room = job.keep_examples - len(self.example_ids)
        if room > 0:
            for key, value in (
                ("mask", exp.mask),
                ("logspec", exp.logspec),
                ("waveform", exp.waveform),
                ("input", batch.item.wav),
                ("target", batch.item.target),
            ):
                value = value[:room].cpu()
                self.examples[key].append((value.half() if key in ("mask", "logspec") else value).numpy())
            self.example_ids.extend(batch.ids[:room])

    def write(self, out_csv: str, out_npz: str) -> pd.DataFrame:
        job, frame = self.job, pd.DataFrame(self.rows)
        arrays = {k: np.concatenate(v) for k, v in self.examples.items()}
        if job.keep_all_masks:
            arrays.update(
                masks=np.stack(self.masks),
                mask_ids=frame["id"].to_numpy(str),
                mask_versions=frame["version"].to_numpy(),
            )
        write_csv(out_csv, frame)
        sample_rate = np.array(self.run.classifier.frontend.cfg.sample_rate)
        save_npz(out_npz, ids=np.array(self.example_ids), sample_rate=sample_rate, **arrays)
        log.info(
            "%s on %s/%s (%d items): %s",
            job.method,
            job.split,
            job.condition,
            len(frame),
            " ".join(f"{m} {frame[m].mean():.3f}" for m in (*METRICS, *LOCALISATION_METRICS)),
        )
        return frame
