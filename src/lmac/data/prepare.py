"""Turn a dataset in ESC-50's on-disk layout into training-ready arrays.

Input layout (real ESC-50 and lmac's synthetic dataset alike)::

    RAW/audio/*.wav
    RAW/meta/esc50.csv      filename,fold,target,category[,esc10,src_file,take]

Output (in ``out_dir``, every file written atomically)::

    audio.npy      float32 [N, L], L = round(sample_rate * clip_seconds); loaded memory-mapped
    manifest.csv   index,id,filename,fold,split,label,category,duration_s (row i <-> audio row i)
    classes.txt    one class name per line; line number = label
    prepare.json   settings, counts, source sample rates, sha256 of audio.npy

Why decode once up front: the reference recipe (``dataio_prep`` in ``recipes/ESC50``) decodes,
downmixes and resamples every clip on every epoch.  Doing it once and memory-mapping one array
makes training I/O trivial and makes the exact input signal a hashed artefact.

Per-clip pipeline, in the reference's order: read (soundfile, [channels, samples]) -> average
channels -> resample to ``sample_rate`` -> crop/zero-pad to L (ESC-50 clips are all 5 s, so this
is a no-op there) -> normalise.  Resampling uses ``torchaudio.transforms.Resample`` -- the module the
reference uses -- rather than ``torchaudio.functional.resample``: both apply the same windowed-sinc
filter, but the module builds its kernel in float64 before casting, while the function builds it in
the waveform's float32, so the two differ by ~1e-6.  With the module, the batched result is
bit-identical to the reference's clip-by-clip call.  Normalisation:

* ``peak_abs`` (default): ``x / max|x|``, so every clip peaks at exactly 1 in magnitude;
* ``peak_signed``: ``x / max(x)``, the reference's ``sig / sig.max()``; when the negative peak is
  larger this leaves ``|x| > 1`` -- kept to reproduce the papers' numbers exactly;
* ``none``.

A clip whose divisor is <= 0 (silence, or an all-negative clip under ``peak_signed``) is left
unnormalised and reported, instead of turning into NaN/inf or flipping sign as the reference would.

Manifest rows are grouped by split (in the order of ``splits``) and sorted by filename inside each
split, so a split is one contiguous block of ``audio.npy``.

Labels: ``label_order="target"`` orders classes by ESC-50's ``target`` column (label = rank of the
target, which equals the target for ESC-50's contiguous 0..49).
``label_order="first_appearance"`` reproduces the reference's ``CategoricalEncoder``, which numbers
classes in order of first appearance while iterating the *train* manifest.  The reference builds that
manifest in the row order of ``meta/esc50.csv``, which for the published ESC-50 is sorted by
filename; we *assume* that and sort by filename explicitly, so the result does not depend on how a
csv happens to be ordered.  Classes absent from the train split are appended afterwards (the
reference would fail on them).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchaudio

from .. import __version__
from ..errors import LmacError
from ..io import atomic_path, read_audio, write_csv, write_json, write_text
from .download import sha256_file

log = logging.getLogger("lmac.data")

DEFAULT_SPLITS: dict[str, tuple[int, ...]] = {"train": (1, 2, 3), "valid": (4,), "test": (5,)}
REQUIRED_COLUMNS = ("filename", "fold", "target", "category")
NORMALISATIONS = ("peak_abs", "peak_signed", "none")
LABEL_ORDERS = ("target", "first_appearance")
MANIFEST_COLUMNS = ["index", "id", "filename", "fold", "split", "label", "category", "duration_s"]
# Removed first and written last, so an interrupted or failed run never looks finished.
OUTPUT_FILES = ("prepare.json", "manifest.csv", "classes.txt", "audio.npy")
BATCH = 64  # clips resampled together (one conv1d call); 64 x 5 s x 44.1 kHz ~ 56 MB
LOG_EVERY_S = 5.0


def prepare_dataset(
    raw_dir,
    out_dir,
    sample_rate: int = 16000,
    clip_seconds: float = 5.0,
    splits: Mapping[str, Sequence[int] | int] | None = None,
    normalisation: str = "peak_abs",
    label_order: str = "target",
    expect_clips: int | None = None,
    expect_classes: int | None = None,
    clips_per_split: int | Mapping[str, int] | None = None,
) -> None:
    """Decode, resample, normalise and store every clip of ``raw_dir`` in ``out_dir``.

        ``splits`` maps split name -> folds (default train 1-3, valid 4, test 5); clips whose fold is
        in no split are dropped.  ``expect_clips`` / ``expect_classes`` check the listing in
        ``meta/esc50.csv`` (ESC-50: 2000 and 50).  ``clips_per_split`` keeps the first clips of each split
    (smoke mode); the class list and its order stay those of the whole listing.  Raises :class:`LmacError` on bad input.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LmacError(f"{out_dir}: exists and is not a folder")
    _invalidate(out_dir)

    if normalisation not in NORMALISATIONS:
        raise LmacError(f"unknown normalisation '{normalisation}' (choose from {', '.join(NORMALISATIONS)})")
    if label_order not in LABEL_ORDERS:
        raise LmacError(f"unknown label_order '{label_order}' (choose from {', '.join(LABEL_ORDERS)})")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise LmacError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not clip_seconds > 0:
        raise LmacError(f"clip_seconds must be positive, got {clip_seconds!r}")
    sample_rate = int(sample_rate)
    length = int(round(sample_rate * clip_seconds))
    fold_to_split = check_splits(DEFAULT_SPLITS if splits is None else splits)

    csv_path = raw_dir / "meta" / "esc50.csv"
    meta = _read_meta(csv_path)
    if expect_clips is not None and len(meta) != expect_clips:
        raise LmacError(f"{csv_path}: expected {expect_clips} clips, found {len(meta)}")
    n_categories = meta["category"].nunique()
    if expect_classes is not None and n_categories != expect_classes:
        raise LmacError(f"{csv_path}: expected {expect_classes} classes, found {n_categories}")
    audio_dir = raw_dir / "audio"
    for name in meta["filename"]:
        if not (audio_dir / name).is_file():
            raise LmacError(f"{audio_dir / name}: listed in {csv_path} but missing")

    split_names = list(dict.fromkeys(fold_to_split.values()))
    meta["split"] = meta["fold"].map(fold_to_split)
    kept = meta[meta["split"].notna()].copy()
    if kept.empty:
        raise LmacError(f"{csv_path}: no clip is in folds {sorted(fold_to_split)}")
    kept["_order"] = kept["split"].map({name: i for i, name in enumerate(split_names)})
    # Within a split, rows follow filename order (the order of the published esc50.csv).
    kept = kept.sort_values(["_order", "filename"], kind="mergesort").reset_index(drop=True)
    if len(kept) < len(meta):
        log.info(
            "prepare: %d of %d listed clips are in no split (folds %s) and are dropped",
            len(meta) - len(kept),
            len(meta),
            sorted(set(meta["fold"]) - set(fold_to_split)),
        )

    classes = _class_order(meta, kept, label_order, csv_path, split_names)
    kept["label"] = kept["category"].map({name: i for i, name in enumerate(classes)}).astype(np.int64)
    if clips_per_split is not None:
        limits = (
            clips_per_split if isinstance(clips_per_split, Mapping) else dict.fromkeys(split_names, clips_per_split)
        )
        rank = kept.groupby("split", sort=False).cumcount()
        kept = kept[rank < kept["split"].map(lambda name: limits.get(name, len(kept)))].reset_index(drop=True)
        log.info("prepare: only the first clips of each split are kept (dataset.clips_per_split: %s)", clips_per_split)
    kept["id"] = kept["filename"].str.replace(r"\.wav$", "", regex=True, case=False)

    n = len(kept)
    log.info(
        "prepare: %d clips, %d classes -> %s (%d Hz, %d samples, %s)",
        n,
        len(classes),
        out_dir,
        sample_rate,
        length,
        normalisation,
    )
    with atomic_path(out_dir / "audio.npy", suffix=".npy") as tmp:
        # Written straight into a memory-mapped .npy: bounded memory whatever the dataset size.
        audio = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, length))
        info = _fill_audio(
            audio, [audio_dir / f for f in kept["filename"]], kept["id"].tolist(), sample_rate, length, normalisation
        )
        audio.flush()
        del audio
        audio_sha = sha256_file(tmp)

    kept["duration_s"] = info["durations"]
    kept["index"] = np.arange(n)
    manifest = kept[MANIFEST_COLUMNS]
    write_text(out_dir / "classes.txt", "".join(f"{c}\n" for c in classes))
    write_csv(out_dir / "manifest.csv", manifest)
    write_json(
        out_dir / "prepare.json",
        {
            "settings": {
                "sample_rate": sample_rate,
                "clip_seconds": clip_seconds,
                "clip_samples": length,
                "splits": {name: sorted(f for f, s in fold_to_split.items() if s == name) for name in split_names},
                "normalisation": normalisation,
                "label_order": label_order,
                "expect_clips": expect_clips,
                "expect_classes": expect_classes,
                "clips_per_split": clips_per_split,
            },
            "source": {
                "raw_dir": str(raw_dir),
                "meta_sha256": sha256_file(csv_path),
                "sample_rates": {str(k): v for k, v in sorted(info["sample_rates"].items())},
                "channels": {str(k): v for k, v in sorted(info["channels"].items())},
            },
            "counts": {
                "listed": len(meta),
                "clips": n,
                "dropped": len(meta) - n,
                "classes": len(classes),
                "per_split": {name: int((manifest["split"] == name).sum()) for name in split_names},
            },
            "unnormalised_clips": info["unnormalised"],
            "audio_sha256": audio_sha,
            "lmac_version": __version__,
        },
    )
    log.info("prepare: done, %s", ", ".join(f"{s} {int((manifest['split'] == s).sum())}" for s in split_names))


def load_prepared(out_dir) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """Return (audio [N, L] float32 memory-mapped read-only, manifest, class names)."""
    out_dir = Path(out_dir)
    for name in ("audio.npy", "manifest.csv", "classes.txt"):
        if not (out_dir / name).is_file():
            raise LmacError(f"{out_dir}: not a prepared dataset (no {name}; run prepare first)")
    try:
        audio = np.load(out_dir / "audio.npy", mmap_mode="r")
    except ValueError as err:
        raise LmacError(f"{out_dir / 'audio.npy'}: unreadable ({err})") from None
    try:
        manifest = pd.read_csv(
            out_dir / "manifest.csv", dtype={"id": str, "filename": str, "split": str, "category": str}
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise LmacError(f"{out_dir / 'manifest.csv'}: not a readable csv ({str(err).splitlines()[0]})") from None
    try:
        classes = (out_dir / "classes.txt").read_text().splitlines()
    except UnicodeDecodeError:
        raise LmacError(f"{out_dir / 'classes.txt'}: not a text file (one class name per line)") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise LmacError(f"{out_dir / 'manifest.csv'}: missing column '{missing[0]}'")
    if audio.ndim != 2 or audio.shape[0] != len(manifest):
        raise LmacError(f"{out_dir}: audio.npy has shape {audio.shape} but manifest.csv {len(manifest)} rows")
    if not np.array_equal(manifest["index"].to_numpy(), np.arange(len(manifest))):
        raise LmacError(f"{out_dir / 'manifest.csv'}: column 'index' is not 0..N-1")
    if len(manifest) and not manifest["label"].between(0, len(classes) - 1).all():
        raise LmacError(f"{out_dir}: manifest labels out of range for {len(classes)} classes")
    return audio, manifest, classes


# --------------------------------------------------------------------------------------------


def _invalidate(out_dir: Path) -> None:
    """Remove outputs of an earlier run so a failure now cannot leave a stale 'finished' set."""
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def check_splits(splits: Mapping[str, Sequence[int] | int]) -> dict[int, str]:
    """fold -> split name; ``LmacError`` for an empty mapping, a non-integer fold or a fold in two splits."""
    if not splits:
        raise LmacError("splits is empty")
    fold_to_split: dict[int, str] = {}
    for name, folds in splits.items():
        folds = [folds] if isinstance(folds, (int, np.integer)) else list(folds)
        for fold in folds:
            if int(fold) != fold:
                raise LmacError(f"split '{name}': fold {fold!r} is not an integer")
            if int(fold) in fold_to_split:
                raise LmacError(f"fold {fold} is in both split '{fold_to_split[int(fold)]}' and '{name}'")
            fold_to_split[int(fold)] = str(name)
    return fold_to_split


def _read_meta(csv_path: Path) -> pd.DataFrame:
    if not csv_path.is_file():
        raise LmacError(f"{csv_path}: no such file (is this an ESC-50-layout folder?)")
    try:
        meta = pd.read_csv(csv_path, dtype={"filename": str, "category": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LmacError(f"{csv_path}: not a readable csv ({err})") from None
    for col in REQUIRED_COLUMNS:
        if col not in meta.columns:
            raise LmacError(f"{csv_path}: missing column '{col}'")
    for col in ("filename", "category"):
        if meta[col].isna().any():
            raise LmacError(f"{csv_path}: empty '{col}' in row {int(meta[col].isna().to_numpy().argmax()) + 2}")
    for col in ("fold", "target"):
        values = pd.to_numeric(meta[col], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            row = int((values.isna() | (values != values.round())).to_numpy().argmax())
            raise LmacError(f"{csv_path}: column '{col}' is not an integer in row {row + 2}")
        meta[col] = values.astype(np.int64)
    dup = meta["filename"][meta["filename"].duplicated()]
    if len(dup):
        raise LmacError(f"{csv_path}: filename {dup.iloc[0]} is listed twice")
    bad = meta["filename"][meta["filename"].str.contains(r"[/\\]|^\.\.?$", regex=True)]
    if len(bad):
        raise LmacError(f"{csv_path}: filename {bad.iloc[0]!r} must be a plain file name in audio/")
    return meta


def _few(names: list[str], n: int = 10) -> str:
    """The first ``n`` names for a log line, "..." when there are more."""
    return ", ".join(names[:n]) + (" ..." if len(names) > n else "")


def _class_order(
    meta: pd.DataFrame, kept: pd.DataFrame, label_order: str, csv_path: Path, split_names: list[str]
) -> list[str]:
    pairs = meta[["target", "category"]].drop_duplicates()
    for col, other in (("category", "target"), ("target", "category")):
        counts = pairs.groupby(col)[other].nunique()
        if (counts > 1).any():
            key = counts[counts > 1].index[0]
            raise LmacError(
                f"{csv_path}: {col} {key!r} has several values of '{other}' "
                f"({sorted(pairs.loc[pairs[col] == key, other].tolist())})"
            )
    by_target = pairs.sort_values("target")["category"].tolist()
    if label_order == "target":
        return by_target
    train = "train" if "train" in split_names else split_names[0]
    order = kept.loc[kept["split"] == train, "category"].drop_duplicates().tolist()
    rest = [c for c in dict.fromkeys(kept["category"].tolist() + by_target) if c not in set(order)]
    if rest:
        log.warning(
            "prepare: %d classes do not occur in split '%s'; numbered after the others: %s",
            len(rest),
            train,
            _few(rest),
        )
    return order + rest


def _fill_audio(
    audio: np.ndarray, paths: list[Path], ids: list[str], sample_rate: int, length: int, normalisation: str
) -> dict:
    """Decode ``paths`` into rows of ``audio``; resample clips sharing (rate, length) in one call."""
    n = len(paths)
    durations = np.zeros(n, dtype=np.float64)
    rates: Counter = Counter()
    channels: Counter = Counter()
    unnormalised: list[str] = []
    resamplers: dict[int, torch.nn.Module] = {}
    started = last_log = time.monotonic()
    for start in range(0, n, BATCH):
        groups: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
        for i in range(start, min(start + BATCH, n)):
            wav, sr = read_audio(paths[i])  # [channels, samples] float32
            if wav.shape[1] == 0:
                raise LmacError(f"{paths[i]}: empty audio file")
            durations[i] = wav.shape[1] / sr
            rates[sr] += 1
            channels[wav.shape[0]] += 1
            mono = wav.mean(axis=0, dtype=np.float32) if wav.shape[0] > 1 else wav[0]
            groups.setdefault((sr, mono.shape[0]), []).append((i, mono))
        for (sr, _), items in groups.items():
            rows = [i for i, _ in items]
            batch = torch.from_numpy(np.stack([m for _, m in items]))
            if sr != sample_rate:
                if sr not in resamplers:
                    resamplers[sr] = torchaudio.transforms.Resample(orig_freq=sr, new_freq=sample_rate)
                batch = resamplers[sr](batch)
            batch = _fit_length(batch, length)
            batch, bad = normalise_peak(batch, normalisation)
            for k in np.flatnonzero(bad):
                unnormalised.append(ids[rows[k]])
            audio[rows] = batch.numpy()
        done = min(start + BATCH, n)
        now = time.monotonic()
        if now - last_log >= LOG_EVERY_S and done < n:
            last_log = now
            rate = done / (now - started)
            log.info(
                "prepare: %d/%d clips (%.0f%%), %.1f clips/s, ETA %.0fs",
                done,
                n,
                100 * done / n,
                rate,
                (n - done) / rate,
            )
    if unnormalised:
        log.warning(
            "prepare: %d clips are silent (or have no positive peak for %s) and were left unnormalised: %s",
            len(unnormalised),
            normalisation,
            _few(unnormalised),
        )
    return {
        "durations": durations,
        "sample_rates": dict(rates),
        "channels": dict(channels),
        "unnormalised": unnormalised,
    }


def _fit_length(batch: torch.Tensor, length: int) -> torch.Tensor:
    if batch.shape[1] >= length:
        return batch[:, :length]
    return torch.nn.functional.pad(batch, (0, length - batch.shape[1]))


def normalise_peak(batch: torch.Tensor, normalisation: str) -> tuple[torch.Tensor, np.ndarray]:
    """Return the normalised batch and a mask of rows left alone (divisor <= 0)."""
    if normalisation == "none":
        return batch, np.zeros(batch.shape[0], dtype=bool)
    divisor = batch.abs().amax(dim=1) if normalisation == "peak_abs" else batch.amax(dim=1)
    bad = divisor <= 0
    divisor = torch.where(bad, torch.ones_like(divisor), divisor)
    return batch / divisor[:, None], bad.numpy()
