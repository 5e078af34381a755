"""Run one explainer over one split and score every clip.

The explainer is reached only through :class:`lmac.explainers.base.Explainer`, so this code is
the same for every method. Outputs: one CSV row per clip (id, label, prediction, every metric)
and every clip's mask (float16, ``masks``/``mask_ids``), plus spectrograms, inputs and listenable
explanations of the first ``keep_examples`` clips for figures.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch

from ..classifier.model import load_classifier
from ..data.batches import split
from ..data.prepare import load_prepared
from ..explainers.registry import load_explainer
from ..io import save_npz, write_csv
from ..training import format_duration, pick_device
from .metrics import METRICS, all_metrics

log = logging.getLogger("lmac.evaluation")


def evaluate(prepared_dir: str, classifier_path: str, explainer_path: str, out_csv: str, out_npz: str,
             split_name: str = "test", batch_size: int = 8, keep_examples: int = 8,
             device: str = "auto", method: str | None = None) -> pd.DataFrame:
    dev = pick_device(device)
    audio, manifest, classes = load_prepared(prepared_dir)
    data = split(audio, manifest, split_name)
    classifier = load_classifier(classifier_path, dev)
    explainer = load_explainer(explainer_path, classifier)
    method = method or explainer.name
    rows, masks, t0 = [], [], time.monotonic()
    examples = {"mask": [], "logspec": [], "waveform": [], "input": [], "ids": []}
    n_batches = data.n_batches(batch_size)
    for b, (wav, labels, pick) in enumerate(data.batches(batch_size), start=1):
        wav = wav.to(dev)
        with torch.no_grad():
            logits, _ = classifier(wav)
            exp = explainer.explain(wav, logits.argmax(-1))
            scores = all_metrics(logits, classifier.classify_logspec(exp.masked_in),
                                 classifier.classify_logspec(exp.masked_out), exp.mask, exp.target)
        for i, idx in enumerate(pick):
            rows.append({"id": data.ids[idx], "method": method, "split": split_name,
                         "label": classes[int(labels[i])], "predicted": classes[int(exp.target[i])],
                         "correct": bool(labels[i].item() == exp.target[i].item()),
                         **{m: float(scores[m][i]) for m in METRICS}})
        masks.extend(exp.mask.cpu().half().numpy())
        room = keep_examples - len(examples["ids"])
        if room > 0:
            examples["mask"].append(exp.mask[:room].cpu().half().numpy())
            examples["logspec"].append(exp.logspec[:room].cpu().half().numpy())
            examples["waveform"].append(exp.waveform[:room].cpu().numpy())
            examples["input"].append(wav[:room].cpu().numpy())
            examples["ids"].extend(data.ids[i] for i in pick[:room])
        if b == n_batches or b % 10 == 0:
            elapsed = time.monotonic() - t0
            log.info("%s: batch %d/%d | elapsed %s ETA %s", method, b, n_batches, format_duration(elapsed),
                     format_duration(elapsed / b * (n_batches - b)))
    frame = pd.DataFrame(rows)
    write_csv(out_csv, frame)
    save_npz(out_npz, ids=np.array(examples["ids"]), sample_rate=np.array(classifier.frontend.cfg.sample_rate),
             mask_ids=np.array([row["id"] for row in rows]), masks=np.stack(masks),
             **{k: np.concatenate(v) for k, v in examples.items() if k != "ids"})
    log.info("%s on %s: %s", method, split_name,
             " ".join(f"{m} {frame[m].mean():.3f}" for m in METRICS))
    return frame
