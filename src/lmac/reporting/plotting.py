"""What every report figure shares: the Agg backend, PNG + PDF written atomically, input checks,
and one colour per method across figures."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..errors import LmacError  # noqa: E402
from ..io import atomic_path  # noqa: E402
from ..smoke import mark as smoke_mark  # noqa: E402

# the columns of results/<run>/tables/metrics.csv the figures read (written by tables.aggregate)
TABLE_COLUMNS = ("condition", "method", "metric", "mean", "ci_low", "ci_high")


def save_figure(fig: plt.Figure, png: str | os.PathLike, pdf: str | os.PathLike | None = None, dpi: int = 100) -> None:
    """Write ``fig`` as PNG (and PDF), each atomically, then close it; a smoke run's carries the mark."""
    if smoke_mark.active():
        smoke_mark.watermark(fig)
    try:
        for path, fmt in ((png, "png"), (pdf, "pdf")):
            if path is not None:
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, dpi=dpi, format=fmt)
    finally:
        plt.close(fig)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise LmacError(f"{source}: lacks the column(s) {', '.join(missing)}")


def read_table(path: str | os.PathLike, columns: Sequence[str] = TABLE_COLUMNS) -> pd.DataFrame:
    """A CSV with the given columns, or a one-line error naming the file."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise LmacError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LmacError(f"{path}: not a readable CSV ({err})") from None
    require_columns(frame, columns, str(path))
    return frame


def spectrogram_image(ax: plt.Axes, image, cmap: str, top: float, extent: Sequence[float]):
    """``image`` [frames, bins] drawn with time across and frequency up, colours from 0 to ``top``."""
    return ax.imshow(
        np.asarray(image, dtype=np.float32).T,
        origin="lower",
        aspect="auto",
        cmap=cmap,
        vmin=0.0,
        vmax=top,
        extent=extent,
        interpolation="nearest",
    )


def palette(n: int) -> list[tuple]:
    """``n`` distinct colours, tab10 (tab20 beyond 10), cycled beyond 20. Matplotlib's own maps: seaborn
    would give the same colours for seconds of import time in every figure job."""
    colours = matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors
    return [colours[i % len(colours)] for i in range(n)]


def method_colours(methods: Sequence[str]) -> dict[str, tuple]:
    """One colour per method, in the given order (the table's), so figures agree with each other."""
    return dict(zip(methods, palette(len(methods))))
