"""The listening test's analysis: per-method means with 95 % bootstrap CIs, paired comparisons and a verdict.

After post-screening (:mod:`lmac.listening.ratings`) the retained participants are the units: a method's
mean is the mean of its ratings, its 95 % CI the percentile interval of that mean over participants
resampled with replacement (each keeps all their ratings: ratings of one participant are not independent).
Paired comparisons: for every pair of tested methods (the hidden reference and the anchor are shown, not
compared), a two-sided Wilcoxon signed-rank test on the participants' mean ratings of the two, p-values
Holm-corrected over all pairs. The claim "LMAC-TD is rated higher than L-MAC" PASSes when every rated
LMAC-TD variant is rated higher than L-MAC with a Holm-corrected p < 0.05, FAILs when any is not, and is
NOT RUN when either method was not rated by a retained participant (as the claims of
:mod:`lmac.reporting.claims`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from ..io import write_csv, write_text
from ..reporting.claims import FAIL, PASS, overall_verdict
from ..reporting.plotting import method_colours, plt, save_figure
from ..reporting.table_model import Table, format_ci, html_page
from .kit import ANCHOR, REFERENCE
from .ratings import read_ratings, screen

ALPHA = 0.05


@dataclass(frozen=True)
class Claim:
    """``method`` (a method, or the prefix of its variants: lmac_td → lmac_td_a0.75, …) rated higher than ``versus``."""

    method: str = "lmac_td"
    versus: str = "lmac"

    @property
    def statement(self) -> str:
        return f"{self.method} is rated higher than {self.versus}"

    def variants(self, methods: Sequence[str]) -> list[str]:
        return [m for m in methods if m == self.method or m.startswith(f"{self.method}_")]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` (family-wise error), in their order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def participant_means(ratings: pd.DataFrame) -> pd.DataFrame:
    """[participant × stimulus] mean rating."""
    return ratings.pivot_table(index="participant", columns="stimulus", values="rating", aggfunc="mean")


def method_order(stimuli) -> list[str]:
    """The tested methods in a stable order, then the hidden reference and the anchor."""
    methods = sorted(s for s in stimuli if s not in (REFERENCE, ANCHOR))
    return methods + [s for s in (REFERENCE, ANCHOR) if s in set(stimuli)]


def mean_scores(ratings: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per stimulus: mean rating, 95 % participant-bootstrap CI, participants and ratings."""
    rng = np.random.default_rng(seed)
    participants = np.array(sorted(set(ratings["participant"])))
    sums = ratings.pivot_table(index="participant", columns="stimulus", values="rating", aggfunc="sum")
    counts = ratings.pivot_table(index="participant", columns="stimulus", values="rating", aggfunc="count")
    sums, counts = sums.reindex(participants).fillna(0.0), counts.reindex(participants).fillna(0)
    draws = rng.integers(0, len(participants), size=(n_boot, len(participants)))
    rows = []
    for stimulus in method_order(sums.columns):
        s, c = sums[stimulus].to_numpy(), counts[stimulus].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = s[draws].sum(1) / c[draws].sum(1)
        low, high = np.nanpercentile(boot, [2.5, 97.5]) if np.isfinite(boot).any() else (np.nan, np.nan)
        rows.append(
            {
                "stimulus": stimulus,
                "mean": s.sum() / c.sum(),
                "ci_low": low,
                "ci_high": high,
                "participants": int((c > 0).sum()),
                "ratings": int(c.sum()),
            }
        )
    return pd.DataFrame(rows)


def paired_comparisons(ratings: pd.DataFrame) -> pd.DataFrame:
    """Every pair of tested methods: mean difference, Wilcoxon signed-rank p, Holm-corrected p."""
    means = participant_means(ratings)
    methods = [m for m in method_order(means.columns) if m not in (REFERENCE, ANCHOR)]
    rows = []
    for a, b in itertools.combinations(methods, 2):
        pair = means[[a, b]].dropna()
        diff = pair[a] - pair[b]
        p = float(wilcoxon(pair[a], pair[b]).pvalue) if len(pair) and (diff != 0).any() else 1.0
        rows.append({"method": a, "versus": b, "participants": len(pair), "mean_diff": diff.mean(), "p": p})
    frame = pd.DataFrame(rows, columns=["method", "versus", "participants", "mean_diff", "p"])
    frame["p_holm"] = holm(frame["p"]) if len(frame) else []
    frame["significant"] = frame["p_holm"] < ALPHA
    return frame


def verdict(comparisons: pd.DataFrame, methods: Sequence[str], claim: Claim) -> pd.DataFrame:
    """One row per LMAC-TD variant against L-MAC, then the claim's overall row."""
    rows = []
    variants = claim.variants(methods)
    for variant in variants if claim.versus in methods else []:
        forward = comparisons[(comparisons["method"] == variant) & (comparisons["versus"] == claim.versus)]
        backward = comparisons[(comparisons["method"] == claim.versus) & (comparisons["versus"] == variant)]
        row = forward.iloc[0] if len(forward) else backward.iloc[0]
        diff = row["mean_diff"] if len(forward) else -row["mean_diff"]
        ok = bool(row["significant"]) and diff > 0
        rows.append({"comparison": f"{variant} vs {claim.versus}", "mean_diff": diff, "p_holm": row["p_holm"]})
        rows[-1]["verdict"] = PASS if ok else FAIL
    overall = overall_verdict([r["verdict"] for r in rows])
    note = (
        ""
        if rows
        else f"not rated by a retained participant: {claim.versus if claim.versus not in methods else claim.method}"
    )
    rows.append(
        {"comparison": claim.statement, "mean_diff": np.nan, "p_holm": np.nan, "verdict": overall, "note": note}
    )
    return pd.DataFrame(rows, columns=["comparison", "mean_diff", "p_holm", "verdict", "note"]).fillna({"note": ""})


def _scores_table(scores: pd.DataFrame) -> Table:
    rows = [
        [r.stimulus, format_ci(r.mean, r.ci_low, r.ci_high, digits=1), str(r.participants), str(r.ratings)]
        for r in scores.itertuples()
    ]
    return Table(["stimulus", "mean [95 % CI]", "participants", "ratings"], rows)


def _comparisons_table(comparisons: pd.DataFrame) -> Table:
    rows = [
        [f"{r.method} − {r.versus}", f"{r.mean_diff:+.1f}", str(r.participants), f"{r.p:.3g}", f"{r.p_holm:.3g}"]
        for r in comparisons.itertuples()
    ]
    return Table(["pair", "mean difference", "participants", "Wilcoxon p", "Holm p"], rows)


def _verdict_table(verdicts: pd.DataFrame) -> Table:
    rows = [
        [
            r.comparison,
            "" if pd.isna(r.mean_diff) else f"{r.mean_diff:+.1f}",
            "" if pd.isna(r.p_holm) else f"{r.p_holm:.3g}",
            r.verdict,
        ]
        for r in verdicts.itertuples()
    ]
    return Table(["claim / comparison", "mean difference", "Holm p", "verdict"], rows)


def scores_figure(scores: pd.DataFrame, mode: str, png: str | os.PathLike, pdf: str | os.PathLike) -> None:
    """Each stimulus's mean rating with its 95 % CI; the hidden reference and the anchor in grey."""
    colours = method_colours([s for s in scores["stimulus"] if s not in (REFERENCE, ANCHOR)])
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(scores), 3.6))
    x = np.arange(len(scores))
    err = np.vstack([scores["mean"] - scores["ci_low"], scores["ci_high"] - scores["mean"]])
    ax.bar(x, scores["mean"], color=[colours.get(s, (0.6, 0.6, 0.6)) for s in scores["stimulus"]])
    ax.errorbar(x, scores["mean"], yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=4)
    ax.set_xticks(x, scores["stimulus"], rotation=30, ha="right")
    ax.set_ylabel("MUSHRA score" if mode == "mushra" else "MOS")
    ax.set_ylim(*((0, 100) if mode == "mushra" else (1, 5)))
    ax.set_title("Listening test: mean rating, 95 % CI")
    fig.subplots_adjust(bottom=0.3, left=0.12, right=0.98)
    save_figure(fig, png, pdf)


def analyse(paths: Sequence[str | os.PathLike], n_boot: int = 1000, seed: int = 0, claim: Claim = Claim()) -> dict:
    """{screening, scores, comparisons, verdict, mode} of the ratings files ``paths``."""
    ratings = read_ratings(paths)
    screening = screen(ratings)
    kept = ratings[ratings["participant"].isin(screening.loc[~screening["excluded"], "participant"])]
    scores = (
        mean_scores(kept, n_boot, seed)
        if len(kept)
        else pd.DataFrame(columns=["stimulus", "mean", "ci_low", "ci_high", "participants", "ratings"])
    )
    comparisons = paired_comparisons(kept) if len(kept) else paired_comparisons(ratings.iloc[:0])
    methods = sorted(set(kept["stimulus"]))
    return {
        "mode": ratings["mode"].iloc[0],
        "screening": screening,
        "scores": scores,
        "comparisons": comparisons,
        "verdict": verdict(comparisons, methods, claim),
    }


def write_analysis(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    n_boot: int = 1000,
    seed: int = 0,
    claim: Claim = Claim(),
) -> dict:
    """The analysis of ``paths`` written to ``out_dir``: screening, scores, comparisons and verdict (CSV),
    one Markdown and one HTML page of them, and the scores' figure (PNG, PDF)."""
    out = Path(out_dir)
    result = analyse(paths, n_boot, seed, claim)
    screening = result["screening"]
    for name in ("screening", "scores", "comparisons", "verdict"):
        write_csv(out / f"{name}.csv", result[name])
    excluded = screening.loc[screening["excluded"], "participant"].tolist()
    lead = (
        f"{len(screening) - len(excluded)} of {len(screening)} participant(s) retained ({result['mode']}); excluded by "
        f"post-screening (hidden reference rated low in more than 15 % of trials): {', '.join(excluded) or 'none'}."
    )
    tables = [
        ("Mean ratings", _scores_table(result["scores"])),
        (
            "Paired comparisons (Wilcoxon signed-rank on participants' means, Holm-corrected)",
            _comparisons_table(result["comparisons"]),
        ),
        ("Verdict", _verdict_table(result["verdict"])),
    ]
    markdown = ["# Listening test", "", lead, ""]
    for title, table in tables:
        markdown += [f"## {title}", "", *table.to_markdown(), ""]
    write_text(out / "listening.md", "\n".join(markdown))
    body = ["<h1>Listening test</h1>", f"<p>{lead}</p>"]
    for title, table in tables:
        body += [f"<h2>{title}</h2>", table.to_html()]
    write_text(out / "listening.html", html_page("lmac listening test", body))
    scores_figure(result["scores"], result["mode"], out / "scores.png", out / "scores.pdf")
    return result
