"""The listening page: every method's listenable explanation of a run's example clips, as audio players.

One section per condition, one row per clip: the input, the clean target where the condition has one
(every contaminated condition; on clean clips it is the input), and each method's explanation, each
with a small spectrogram and, for the explanations, the class the classifier predicted and the clip's
scores (below the player, and all of them on hover). The sounds are written as WAV files
(``<audio dir>/<condition>/<clip>/<sound>.wav``) and embedded in the page as well, so that the page is
one file: the Snakemake report shows it inline and it opens from ``results/`` in any browser.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import display
from ..io import atomic_path, write_text
from ..reporting.table_model import html_page
from .audio import LEVELS_TEXT, SAMPLE_RATE, common_gain, data_uri, load_condition, shared_clips, wav_bytes
from .spectrogram import colour_top, spectrogram_png

#: the scores shown under a player (where the evaluation wrote them); every metric column is on hover
SHOWN = ("AI", "FidIn", "SI_SDR", "LSD")
STYLE = """.clip{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:1.5em}
.sound{border:1px solid #ccc;padding:4px;width:230px}
.sound audio{width:226px}.sound img{width:226px;height:80px;display:block}
.sound .name{font-weight:bold}.sound .scores{color:#444}"""


def read_scores(path: str | os.PathLike, method: str) -> pd.DataFrame:
    """One method's per-clip scores on one condition, first contaminated version (the kept examples')."""
    try:
        frame = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise LmacError(f"{path}: not a readable evaluation CSV ({method}: {err})") from None
    if "id" not in frame.columns:
        raise LmacError(f"{path}: lacks the column id ({method}'s per-clip scores)")
    if "version" in frame.columns:
        frame = frame[frame["version"] == 0]
    return frame.assign(id=frame["id"].astype(str)).set_index("id")


def _number(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.3g}"


def _score_lines(row: pd.Series | None) -> tuple[str, str]:
    """(the lines under the player, the hover text) of one explanation's scores."""
    if row is None:
        return "no scores", "no scores"
    numeric = {c: v for c, v in row.items() if isinstance(v, int | float | np.number) and c not in ("version", "seed")}
    shown = [f"{display(c)} {_number(numeric[c])}" for c in SHOWN if c in numeric and not pd.isna(numeric[c])]
    predicted = f"predicted: {row['predicted']}" if "predicted" in row else ""
    hover = "\n".join([predicted, *(f"{display(c)}: {_number(v)}" for c, v in numeric.items())])
    return "<br>".join(filter(None, [html.escape(predicted), html.escape(" · ".join(shown))])), hover


def _sound(name: str, wav: np.ndarray, top: float, scores: tuple[str, str] | None = None) -> str:
    lines, hover = scores or ("", name)
    return (
        f'<div class="sound" title="{html.escape(hover)}"><div class="name">{html.escape(name)}</div>'
        f'<audio controls preload="metadata" data-seconds="{wav.shape[-1] / SAMPLE_RATE:.4f}" '
        f'src="{data_uri(wav_bytes(wav), "audio/wav")}"></audio>'
        f'<img alt="spectrogram of {html.escape(name)}" src="{data_uri(spectrogram_png(wav, top), "image/png")}">'
        f'<div class="scores">{lines}</div></div>'
    )


def clip_sounds(loaded, clip: str, source: str) -> dict[str, np.ndarray]:
    """{sound name: waveform} of one clip row, with its common gain: input, clean target (where distinct), methods."""
    first = next(iter(loaded.values()))
    i = first.index(clip, source)
    sounds = {"input": first.input[i]}
    if not np.allclose(first.target[i], first.input[i], atol=1e-6):
        sounds["clean target"] = first.target[i]
    sounds.update({m: e.explanation[e.index(clip, source)] for m, e in loaded.items()})
    gain = common_gain(list(sounds.values()))
    return {name: wav * gain for name, wav in sounds.items()}


def write_sounds(folder: Path, sounds: Mapping[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, wav in sounds.items():
        with atomic_path(folder / f"{name.replace(' ', '_')}.wav") as tmp:
            Path(tmp).write_bytes(wav_bytes(wav))


def condition_section(
    condition: str, explanations: Mapping[str, str], scores: Mapping[str, str], n_clips: int, audio_dir: Path
) -> list[str]:
    """The page's HTML of one condition; its sounds written under ``audio_dir/condition``."""
    loaded = load_condition(explanations)
    tables = {m: read_scores(path, m) for m, path in scores.items()}
    body = [f"<h2>{html.escape(condition)}</h2>"]
    for clip in shared_clips(loaded, n_clips, f"condition {condition}"):
        sounds = clip_sounds(loaded, clip, f"condition {condition}")
        write_sounds(audio_dir / condition / clip, sounds)
        top = colour_top(sounds["input"])
        rows = {m: t.loc[clip] for m, t in tables.items() if clip in t.index}
        labels = {str(r["label"]) for r in rows.values() if "label" in r}
        body.append(
            f"<h3>clip {html.escape(clip)}{' (' + html.escape(', '.join(sorted(labels))) + ')' if labels else ''}</h3>"
        )
        cells = [
            _sound(name, wav, top, _score_lines(rows.get(name)) if name in loaded else None)
            for name, wav in sounds.items()
        ]
        body.append('<div class="clip">' + "".join(cells) + "</div>")
    return body


def write_listening_page(
    explanations: Mapping[str, Mapping[str, str]],
    scores: Mapping[str, Mapping[str, str]],
    n_clips: int,
    out_html: str | os.PathLike,
    audio_dir: str | os.PathLike,
    seed: int | None = None,
) -> None:
    """The page of ``explanations`` ({condition: {method: npz}}) with ``scores`` ({condition: {method: csv}})."""
    if not explanations:
        raise LmacError("listening page: no condition's explanations given")
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    intro = [
        "<h1>Listening page</h1>",
        f"<p>The first {n_clips} example clip(s) of each condition{f' (seed {seed})' if seed is not None else ''}: "
        "the input, the clean target where the condition has one, and every method's listenable explanation, "
        "each with its log-magnitude spectrogram (one colour scale per clip, the input's: what a method removes "
        "reads as darker). Under each explanation: the class the classifier predicted and the clip's scores "
        "(every score on hover).</p>",
        f"<p>Audio: {SAMPLE_RATE // 1000} kHz, 16-bit WAV; {html.escape(LEVELS_TEXT)}. The same files are in "
        f"<code>{html.escape(audio_dir.name)}/&lt;condition&gt;/&lt;clip&gt;/</code> beside this page.</p>",
    ]
    body = [f"<style>{STYLE}</style>", *intro]
    for condition, paths in explanations.items():
        body += condition_section(condition, paths, scores.get(condition, {}), n_clips, audio_dir)
    write_text(out_html, html_page("lmac listening page", body))


def pick_paths(paths: Sequence[str], methods: Sequence[str], conditions: Sequence[str]) -> dict[str, dict[str, str]]:
    """{condition: {method: path}} of files given condition by condition, each in ``methods`` order."""
    if len(paths) != len(methods) * len(conditions):
        raise LmacError(
            f"listening page: {len(paths)} files for {len(conditions)} condition(s) × {len(methods)} method(s)"
        )
    it = iter(paths)
    return {c: {m: str(next(it)) for m in methods} for c in conditions}
