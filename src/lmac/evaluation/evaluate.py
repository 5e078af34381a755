"""Run one explainer under one input condition and score every evaluated item.

The explainer is reached only through :class:`lmac.explainers.base.Explainer`, so this code is
the same for every method, learned or gradient-based. An item is a clip of the evaluated split
under one version of a condition (``lmac.evaluation.conditions``): what a clip gets depends only
on (seed, condition, version, clip id), so every method is scored on identical inputs.

The class explained is the classifier's decision on the (contaminated) input, as the reference;
the metrics compare f(masked-in) and f(masked-out) with f(input), all three classified from the
explanation's log-spectrograms through ``classify_logspec``.
Outputs: one CSV row per item (id, version, label, prediction, every faithfulness/complexity
metric, every localisation metric against the item's ground-truth region, the ``extras`` columns of
:mod:`lmac.evaluation.extras` (listenability, round trip, masking operators), explanation time) and
an npz with the first ``keep_examples`` items' spectrograms, masks, inputs, clean targets and
listenable explanations for figures; with ``keep_all_masks`` every item's mask (float16).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..classifier.model import load_classifier
from ..data.batches import split
from ..data.prepare import load_prepared
from ..explainers.registry import build_explainer
from ..io import save_npz, write_csv
from ..training import format_duration, pick_device
from .conditions import make_condition
from .extras import EXTRAS, check_extras, extra_columns, extra_scores
from .localisation import (LOCALISATION_METRICS, ground_truth, load_event_masks, localisation_metrics,
                           stack_event_masks)
from .metrics import METRICS, all_metrics
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
    explainer_path: str | None = None              # learned methods: the trained checkpoint
    settings: dict = field(default_factory=dict)   # baselines: step/sample counts
    event_masks: str | None = None                 # the dataset's ground-truth event masks, if it has them
    noise_source: object = None                    # in_domain: anything with sample(length, generator)
    speech_source: object = None                   # speech: the same protocol
    extras: tuple = EXTRAS                         # listenability, roundtrip, robustness (lmac.evaluation.extras)

    @classmethod
    def from_config(cls, config: dict, method: str, condition: str, *, explainer_path: str | None = None,
                    event_masks: str | None = None, wham_dir: str | None = None,
                    ljspeech_dir: str | None = None, split: str | None = None) -> "EvalJob":
        """The job the workflow runs for (method, condition), from the validated config."""
        ev = config["evaluation"]
        noise, speech = interferer_sources(condition, config["noise"], ev["speech"],
                                           config["dataset"]["sample_rate"], config["seed"], wham_dir, ljspeech_dir)
        return cls(method=method, condition=condition, split=split or ev["split"], batch_size=ev["batch_size"],
                   versions=ev["versions"], peak=ev["peak"], mixture_pool=ev["mixture_pool"],
                   iou_threshold=ev["iou_threshold"], seed=config["seed"],
                   keep_examples=config["report"]["n_examples"], keep_all_masks=condition in ev["keep_masks"],
                   explainer_path=explainer_path, settings=config.get("baselines", {}).get(method, {}),
                   event_masks=event_masks, noise_source=noise, speech_source=speech,
                   extras=tuple(ev.get("extras", EXTRAS)))


def evaluate(prepared_dir: str, classifier_path: str, job: EvalJob, out_csv: str, out_npz: str,
             device: str = "auto") -> pd.DataFrame:
    dev = pick_device(device)
    audio, manifest, classes = load_prepared(prepared_dir)
    data = split(audio, manifest, job.split)
    classifier = load_classifier(classifier_path, dev)
    explainer = build_explainer(job.method, classifier, job.explainer_path, job.settings)
    pool = split(audio, manifest, job.mixture_pool) if job.condition == "mixture" else None
    condition = make_condition(
        # clean and in_domain have one version per clip (as the reference); versions applies to OOD conditions
        job.condition, seed=job.seed, versions=None if job.condition in ("clean", "in_domain") else job.versions, noise_source=job.noise_source,
        speech_source=job.speech_source, peak=job.peak,
        pool=torch.from_numpy(np.ascontiguousarray(pool.audio[pool.rows])) if pool is not None else None,
        pool_ids=pool.ids if pool is not None else None)
    event_masks = load_event_masks(job.event_masks) if job.event_masks else None
    extras = check_extras(job.extras)
    fe = classifier.frontend
    rows, masks = [], []
    examples: dict[str, list] = {"mask": [], "logspec": [], "waveform": [], "input": [], "target": []}
    example_ids: list[str] = []
    n_batches, t0 = data.n_batches(job.batch_size) * condition.versions, time.monotonic()
    b = 0
    for version in range(condition.versions):
        for wav, labels, pick in data.batches(job.batch_size):
            b += 1
            ids = [data.ids[i] for i in pick]
            item = condition.apply(wav, ids, version)
            x = item.wav.to(dev)
            with torch.no_grad():
                logits, _ = classifier(x)
            start = time.perf_counter()
            exp = explainer.explain(x, logits.argmax(-1))
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = (time.perf_counter() - start) / len(ids)
            with torch.no_grad():
                # the unmasked reference goes through the same path as the masked inputs, so an
                # all-ones mask gives identical logits (no float-noise "increases" counted by AI)
                reference = classifier.classify_logspec(exp.logspec)
                scores = all_metrics(reference, classifier.classify_logspec(exp.masked_in),
                                     classifier.classify_logspec(exp.masked_out), exp.mask, exp.target)
                extra = extra_scores(extras, classifier, exp, x, item.target.to(dev), item.interferer.to(dev),
                                     reference, ids, job.seed, version)
                events = stack_event_masks(event_masks, ids).to(dev) if event_masks is not None else None
                gt = ground_truth(fe, item.target.to(dev), item.interferer.to(dev), events)
                located = localisation_metrics(exp.mask, gt, job.iou_threshold)
            for i, idx in enumerate(pick):
                rows.append({"id": data.ids[idx], "version": version, "seed": job.seed, "condition": job.condition,
                             "method": job.method, "split": job.split, "label": classes[int(labels[i])],
                             "predicted": classes[int(exp.target[i])],
                             "correct": bool(labels[i].item() == exp.target[i].item()),
                             **{m: float(scores[m][i]) for m in METRICS},
                             **{m: float(located[m][i]) for m in LOCALISATION_METRICS},
                             **{m: float(extra[m][i]) for m in extra_columns(extras)},
                             "explain_s": seconds})
            if job.keep_all_masks:
                masks.extend(exp.mask.cpu().half().numpy())
            room = job.keep_examples - len(example_ids)
            if room > 0:
                examples["mask"].append(exp.mask[:room].cpu().half().numpy())
                examples["logspec"].append(exp.logspec[:room].cpu().half().numpy())
                examples["waveform"].append(exp.waveform[:room].cpu().numpy())
                examples["input"].append(item.wav[:room].numpy())
                examples["target"].append(item.target[:room].numpy())
                example_ids.extend(ids[:room])
            if b == n_batches or b % 10 == 0:
                elapsed = time.monotonic() - t0
                log.info("%s/%s: batch %d/%d | elapsed %s ETA %s", job.method, job.condition, b, n_batches,
                         format_duration(elapsed), format_duration(elapsed / b * (n_batches - b)))
    frame = pd.DataFrame(rows)
    arrays = {k: np.concatenate(v) for k, v in examples.items()}
    if job.keep_all_masks:
        arrays.update(masks=np.stack(masks), mask_ids=frame["id"].to_numpy(str),
                      mask_versions=frame["version"].to_numpy())
    write_csv(out_csv, frame)
    save_npz(out_npz, ids=np.array(example_ids), sample_rate=np.array(fe.cfg.sample_rate), **arrays)
    log.info("%s on %s/%s (%d items): %s", job.method, job.split, job.condition, len(frame),
             " ".join(f"{m} {frame[m].mean():.3f}" for m in (*METRICS, *LOCALISATION_METRICS)))
    return frame
