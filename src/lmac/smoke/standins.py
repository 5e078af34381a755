"""Stand-ins for what the paper configuration downloads, in the published layouts, made locally.

ESC-50's ``master.zip`` (``ESC-50-master/{audio/*.wav, meta/esc50.csv}``), WHAM!'s ``wham_noise.zip``
(``wham_noise/{tr,cv,tt}/*.wav`` and ``metadata/``), LJSpeech's ``LJSpeech-1.1.tar.bz2``
(``wavs/*.wav`` and ``metadata.csv``) and SpeechBrain's CNN14 checkpoints (``embedding_model.ckpt``: the
encoder's plain state dict; ``classifier.ckpt``: the head under ``w.``). The audio is noise: a stand-in
proves that the real download, extraction, loading and shapes work, not what a model learns.
:func:`paper_standins` builds the set config/paper.yaml needs; the tests build small ones.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from ..data.download import sha256_file

# The first ESC-50 categories in target order; further classes get synthetic names.
ESC50_NAMES = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow"]
ESC10_TARGETS = {0, 1, 10, 11, 12, 20, 21, 38, 40, 41}


def class_name(target: int) -> str:
    return ESC50_NAMES[target] if target < len(ESC50_NAMES) else f"class_{target:02d}"


def make_esc50_folder(
    root,
    n_classes: int = 3,
    clips_per_fold: int = 1,
    sr: int = 44100,
    seconds: float = 0.5,
    stereo_some: bool = True,
    top: str | None = "ESC-50-master",
    seed: int = 0,
) -> Path:
    """Write ``root/top/{audio/*.wav, meta/esc50.csv}`` and return ``root/top``.

    Five folds x ``n_classes`` x ``clips_per_fold`` clips of random noise, named like the real
    dataset ``{fold}-{src}-{take}-{target}.wav``; every third clip is stereo if ``stereo_some``.
    Rows are sorted by filename, as in the published esc50.csv.
    """
    base = Path(root) / top if top else Path(root)
    (base / "audio").mkdir(parents=True, exist_ok=True)
    (base / "meta").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = int(round(sr * seconds))
    rows = []
    k = 0
    for fold in range(1, 6):
        for target in range(n_classes):
            for c in range(clips_per_fold):
                src = 100000 + 1000 * fold + 10 * target + c
                take = "ABCDEFGH"[c % 8]
                name = f"{fold}-{src}-{take}-{target}.wav"
                n_ch = 2 if stereo_some and k % 3 == 0 else 1
                wav = (rng.uniform(-0.5, 0.5, size=(frames, n_ch))).astype(np.float32)
                sf.write(base / "audio" / name, wav, sr, subtype="PCM_16")
                rows.append(
                    {
                        "filename": name,
                        "fold": fold,
                        "target": target,
                        "category": class_name(target),
                        "esc10": target in ESC10_TARGETS,
                        "src_file": src,
                        "take": take,
                    }
                )
                k += 1
    meta = pd.DataFrame(rows).sort_values("filename").reset_index(drop=True)
    meta.to_csv(base / "meta" / "esc50.csv", index=False)
    return base


def zip_folder(folder, zip_path, arcroot: str | None = None, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Zip ``folder`` with members under ``arcroot/`` (default: the folder's name), dirs included."""
    folder, zip_path = Path(folder), Path(zip_path)
    arcroot = folder.name if arcroot is None else arcroot
    with zipfile.ZipFile(zip_path, "w", compression) as zf:
        for path in sorted([folder, *folder.rglob("*")]):
            rel = path.relative_to(folder).as_posix()
            arc = "/".join(p for p in (arcroot, "" if rel == "." else rel) if p)
            if path.is_dir():
                if arc:
                    zf.writestr(arc + "/", "")
            else:
                zf.write(path, arc)
    return zip_path


def noise_wavs(folder: Path, names: list[str], sr: int, seconds: float, seed: int) -> None:
    """One mono 16-bit WAV of uniform noise per name (lengths vary around ``seconds``, as real corpora do)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        frames = int(sr * seconds * rng.uniform(0.8, 1.2))
        sf.write(folder / name, rng.uniform(-0.3, 0.3, frames).astype(np.float32), sr, subtype="PCM_16")


def make_wham_zip(root: Path, n_files: int = 4, sr: int = 16000, seconds: float = 6.0) -> Path:
    """``root/wham_noise.zip``: tr/, cv/ and tt/ noise files and the metadata folder."""
    base = Path(root) / "wham_noise"
    for i, part in enumerate(("tr", "cv", "tt")):
        names = [f"{part}_{k:03d}.wav" for k in range(n_files)]
        noise_wavs(base / part, names, sr, seconds, seed=i)
        (base / "metadata").mkdir(parents=True, exist_ok=True)
        (base / "metadata" / f"noise_meta_{part}.csv").write_text(
            "utterance_id,noise_file\n" + "".join(f"{n},{n}\n" for n in names)
        )
    return zip_folder(base, Path(root) / "wham_noise.zip", compression=zipfile.ZIP_STORED)


def make_ljspeech_tar(root: Path, n_files: int = 4, sr: int = 22050, seconds: float = 6.0) -> Path:
    """``root/LJSpeech-1.1.tar.bz2``: wavs/ and metadata.csv (id|text|normalised text)."""
    base = Path(root) / "LJSpeech-1.1"
    names = [f"LJ001-{k + 1:04d}" for k in range(n_files)]
    noise_wavs(base / "wavs", [f"{n}.wav" for n in names], sr, seconds, seed=3)
    (base / "metadata.csv").write_text("".join(f"{n}|text {n}|text {n}\n" for n in names))
    path = Path(root) / "LJSpeech-1.1.tar.bz2"
    with tarfile.open(path, "w:bz2") as tar:
        tar.add(base, arcname=base.name)
    return path


def speechbrain_checkpoints(folder: Path, n_classes: int, width: float, seed: int = 7) -> dict[str, Path]:
    """A CNN14 encoder and head saved as SpeechBrain does: plain state dicts, the head's under ``w.``."""
    import torch

    from ..classifier.cnn14 import Cnn14Classifier

    torch.manual_seed(seed)
    net = Cnn14Classifier(n_classes=n_classes, width=width)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"emb": folder / "embedding_model.ckpt", "head": folder / "classifier.ckpt"}
    torch.save(net.embedding_model.state_dict(), paths["emb"])
    torch.save({f"w.{k}": v for k, v in net.classifier.state_dict().items()}, paths["head"])
    return paths


#: ESC-50 stand-in clips per class and fold: five folds of every class, as the published listing has
PAPER_CLIPS_PER_FOLD = 1


def paper_listing_size(n_classes: int) -> int:
    """Clips in the ESC-50 stand-in's listing (what preparation is told to expect)."""
    return 5 * n_classes * PAPER_CLIPS_PER_FOLD


def paper_standins(folder: str | Path, config: dict) -> dict[str, Path]:
    """Every download ``config`` (config/paper.yaml) names, as a stand-in under ``folder``; name -> file.

    ESC-50 keeps the configuration's class count, 44.1 kHz and 5 s clips (``PAPER_CLIPS_PER_FOLD`` per class
    and fold); the checkpoints are at the configured classifier width. Built once: files already
    present are reused (they are deterministic).
    """
    folder = Path(folder)
    built = folder / "built.ok"
    files = {
        "esc50": folder / "master.zip",
        "wham": folder / "wham_noise.zip",
        "ljspeech": folder / "LJSpeech-1.1.tar.bz2",
        "embedding_model": folder / "hub" / "embedding_model.ckpt",
        "classifier": folder / "hub" / "classifier.ckpt",
    }
    if built.is_file() and built.read_text() == _recipe(config):
        return files
    n_classes = config["dataset"]["esc50"]["expect_classes"]
    esc = make_esc50_folder(
        folder / "src", n_classes=n_classes, clips_per_fold=PAPER_CLIPS_PER_FOLD, seconds=5.0, stereo_some=False
    )
    zip_folder(esc, files["esc50"], compression=zipfile.ZIP_STORED)
    make_wham_zip(folder / "src", n_files=4)
    (folder / "src" / "wham_noise.zip").replace(files["wham"])
    make_ljspeech_tar(folder / "src", n_files=4)
    (folder / "src" / "LJSpeech-1.1.tar.bz2").replace(files["ljspeech"])
    speechbrain_checkpoints(folder / "hub", n_classes, config["classifier"]["width"])
    built.write_text(_recipe(config))
    return files


def _recipe(config: dict) -> str:
    return f"classes={config['dataset']['esc50']['expect_classes']} width={config['classifier']['width']} clips_per_fold={PAPER_CLIPS_PER_FOLD}\n"


def digests(files: dict[str, Path]) -> dict[str, str]:
    return {name: sha256_file(path) for name, path in files.items()}
