"""Reading the listening test's ratings files (the CSV each participant's page saves) and their post-screening.

Post-screening follows ITU-R BS.1534-3: a participant who rates the hidden reference below 90 (MUSHRA's
0-100 scale; in MOS mode, below 4 of 5) in more than 15 % of their trials is excluded from the analysis.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from ..errors import LmacError
from .kit import MODES, REFERENCE

COLUMNS = ("participant", "mode", "trial", "stimulus", "rating")
#: the hidden-reference rating below which a trial counts against its participant, per mode
REFERENCE_BELOW = {"mushra": 90.0, "mos": 4.0}
MAX_MISSED_SHARE = 0.15
SCALE = {"mushra": (0.0, 100.0), "mos": (1.0, 5.0)}


def read_ratings(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Every file's ratings in one frame; one line naming the file for anything unreadable or out of range."""
    if not paths:
        raise LmacError("listening analysis: no ratings file given (results/<run>/listening/ratings/*.csv)")
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path, dtype={"participant": str, "trial": str, "stimulus": str})
        except (FileNotFoundError, IsADirectoryError):
            raise LmacError(f"{path}: no such ratings file") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise LmacError(f"{path}: not a ratings CSV ({' '.join(str(err).split())})") from None
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise LmacError(f"{path}: lacks the column(s) {', '.join(missing)} (not a listening-test ratings file)")
        bad_modes = sorted(set(frame["mode"]) - set(MODES))
        if bad_modes:
            raise LmacError(f"{path}: mode {bad_modes[0]!r} is not one of {', '.join(MODES)}")
        rating = pd.to_numeric(frame["rating"], errors="coerce")
        low, high = SCALE[frame["mode"].iloc[0]] if len(frame) else (0, 100)
        if rating.isna().any() or not rating.between(low, high).all():
            raise LmacError(f"{path}: column rating holds a value that is no number in [{low:g}, {high:g}]")
        frames.append(frame.assign(rating=rating.astype(float), file=str(path)))
    ratings = pd.concat(frames, ignore_index=True)
    modes = sorted(set(ratings["mode"]))
    if len(modes) != 1:
        raise LmacError(f"listening analysis: the ratings files mix modes ({', '.join(modes)}); analyse each apart")
    if ratings.empty:
        raise LmacError("listening analysis: the ratings files hold no rating")
    return ratings


def screen(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per participant: trials, hidden-reference trials rated below the bound, their share, excluded."""
    mode = ratings["mode"].iloc[0]
    below = REFERENCE_BELOW[mode]
    rows = []
    for participant, mine in ratings.groupby("participant", sort=True):
        reference = mine[mine["stimulus"] == REFERENCE]
        missed = int((reference["rating"] < below).sum())
        share = missed / len(reference) if len(reference) else float("nan")
        rows.append(
            {
                "participant": participant,
                "trials": int(mine["trial"].nunique()),
                "reference_trials": len(reference),
                "reference_below": missed,
                "share_below": share,
                # no hidden reference rated: nothing shows the participant could hear it, so excluded
                "excluded": bool(not len(reference) or share > MAX_MISSED_SHARE),
            }
        )
    return pd.DataFrame(rows)
