"""Tables beyond the papers: listenability, round-trip faithfulness, masking-operator robustness.

Each reads the evaluation's per-sample CSVs (the ``evaluation.extras`` columns, see
:mod:`lmac.evaluation.extras`), pools every seed and summarises per condition × method with
clip-level 95 % bootstrap CIs (:mod:`lmac.reporting.clip_stats`). Written as CSV (long form),
Markdown and LaTeX (one block per condition, one row per method, ``mean [CI]`` cells):

- ``listenability``: SI_SDR ↑, LSD ↓, interferer_kept ↓ and the share of silent explanations, for
  the conditions with a known clean target (those with an interferer);
- ``roundtrip``: every faithfulness metric on the spectrogram (the papers' way) next to the same
  metric on the resynthesised audio ("heard");
- ``robustness``: every faithfulness metric under the zero, mean and noise operators, and the
  rank stability of the methods between operators (and the round trip): Kendall τ-b [95 % CI]
  and Spearman ρ per condition and metric (:mod:`lmac.reporting.rank_stability`), with the mean
  over conditions.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import FAITHFULNESS, LISTENABILITY, OPERATORS, ROUND_TRIP, display
from ..io import write_csv, write_text
from .clip_stats import read_per_sample, summarise
from .rank_stability import bootstrap_tau, rank_agreement
from .table_model import MISSING, Cell, Table, ci_cell, format_ci, tex_ci

FAITHFULNESS_METRICS = FAITHFULNESS.names
RT = ROUND_TRIP.suffixes["heard"]
# zero: the faithfulness columns themselves
OPERATOR_SUFFIX = {"zero": "", **OPERATORS.suffixes}
# the rankings compared for stability: the three operators and the round trip (zero fill, heard audio)
RANK_SOURCES = {**OPERATOR_SUFFIX, "roundtrip": RT}


# -- summaries (long form) -------------------------------------------------------------------------


def listenability_summary(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """condition, method, metric, mean, CI, n_clips, n_seeds; conditions without a clean target dropped."""
    table = summarise(frame, LISTENABILITY.names, n_boot=n_boot, seed=seed)
    known = table[table["metric"] == "SI_SDR"].groupby("condition")["n_clips"].sum()
    return table[table["condition"].isin(known[known > 0].index)].reset_index(drop=True)


def roundtrip_summary(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """condition, method, metric, domain (spectrogram | heard), mean, CI, n_clips, n_seeds."""
    spec = summarise(frame, FAITHFULNESS_METRICS, n_boot=n_boot, seed=seed).assign(domain="spectrogram")
    heard = summarise(frame, [m + RT for m in FAITHFULNESS_METRICS], n_boot=n_boot, seed=seed)
    heard = heard.assign(metric=heard["metric"].str.removesuffix(RT), domain="heard")
    return _interleave(pd.concat([spec, heard], ignore_index=True), "domain", ["spectrogram", "heard"])


def robustness_summary(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """condition, method, metric, operator (zero | mean | noise), mean, CI, n_clips, n_seeds."""
    parts = []
    for op in OPERATOR_SUFFIX:
        part = summarise(frame, [m + OPERATOR_SUFFIX[op] for m in FAITHFULNESS_METRICS], n_boot=n_boot, seed=seed)
        if OPERATOR_SUFFIX[op]:
            part["metric"] = part["metric"].str.removesuffix(OPERATOR_SUFFIX[op])
        parts.append(part.assign(operator=op))
    return _interleave(pd.concat(parts, ignore_index=True), "operator", list(OPERATOR_SUFFIX))


def _interleave(table: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """Rows ordered condition, method (as they appeared), metric (canonical), then ``key`` in ``order``."""
    first = {k: i for i, k in enumerate(dict.fromkeys(table["condition"]))}
    methods = {k: i for i, k in enumerate(dict.fromkeys(table["method"]))}
    metrics = {m: i for i, m in enumerate(FAITHFULNESS_METRICS)}
    rank = {k: i for i, k in enumerate(order)}
    keys = (
        table["condition"].map(first) * 10**6
        + table["method"].map(methods) * 10**3
        + table["metric"].map(metrics) * 10
        + table[key].map(rank)
    )
    return table.iloc[np.argsort(keys.to_numpy(), kind="stable")].reset_index(drop=True)


def rank_stability(
    frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0, sources: dict[str, str] = RANK_SOURCES
) -> pd.DataFrame:
    """Per condition, metric and pair of sources: Kendall τ-b [CI], Spearman ρ, methods and clips used."""
    rows = []
    for condition, block in frame.groupby("condition", sort=False):
        methods = list(dict.fromkeys(block["method"]))
        for metric in FAITHFULNESS_METRICS:
            available = {s: metric + sfx for s, sfx in sources.items() if metric + sfx in block}
            matrices = {s: _clip_matrix(block, column, methods) for s, column in available.items()}
            for a, b in itertools.combinations(available, 2):
                ma, mb = matrices[a], matrices[b]
                clips = ma.index.intersection(mb.index)
                ma, mb = ma.loc[clips].to_numpy(), mb.loc[clips].to_numpy()
                tau, rho = rank_agreement(ma.mean(0), mb.mean(0)) if len(clips) else (np.nan, np.nan)
                lo, hi = bootstrap_tau(ma, mb, n_boot, seed) if len(clips) else (np.nan, np.nan)
                rows.append(
                    {
                        "condition": condition,
                        "metric": metric,
                        "source_a": a,
                        "source_b": b,
                        "kendall_tau": tau,
                        "tau_ci_low": lo,
                        "tau_ci_high": hi,
                        "spearman": rho,
                        "n_methods": len(methods),
                        "n_clips": len(clips),
                    }
                )
    return pd.DataFrame(
        rows,
        columns=[
            "condition",
            "metric",
            "source_a",
            "source_b",
            "kendall_tau",
            "tau_ci_low",
            "tau_ci_high",
            "spearman",
            "n_methods",
            "n_clips",
        ],
    )


def _clip_matrix(block: pd.DataFrame, column: str, methods: Sequence[str]) -> pd.DataFrame:
    """[clips, methods] clip means of ``column``; clips missing a method are dropped."""
    per_method = {
        m: pd.Series(block.loc[block["method"] == m, column].to_numpy(dtype=float))
        .groupby(block.loc[block["method"] == m, "id"].to_numpy())
        .mean()
        for m in methods
    }
    return pd.DataFrame(per_method)[list(methods)].dropna()


def rank_summary(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per metric and pair: mean and minimum τ over conditions, mean ρ."""
    grouped = ranks.groupby(["metric", "source_a", "source_b"], sort=False)
    return grouped.agg(
        mean_tau=("kendall_tau", "mean"),
        min_tau=("kendall_tau", "min"),
        mean_spearman=("spearman", "mean"),
        n_conditions=("kendall_tau", "count"),
    ).reset_index()


# -- rendering ------------------------------------------------------------------------------------


Columns = list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]]


def _condition_tables(table: pd.DataFrame, columns: Columns) -> Iterator[tuple[str, pd.DataFrame, Table]]:
    """One table per condition: rows methods, ``columns`` = (label, selector of the method's rows)."""
    for condition, block in table.groupby("condition", sort=False):
        out = Table([Cell("method", "Method"), *(label for label, _ in columns)])
        for method, rows in block.groupby("method", sort=False):
            hits = (select(rows) for _, select in columns)
            cells = [
                Cell(MISSING) if hit.empty else ci_cell(*hit.iloc[0][["mean", "ci_low", "ci_high"]]) for hit in hits
            ]
            out.rows.append([method, *cells])
        yield condition, block, out


def _markdown_blocks(table: pd.DataFrame, columns: Columns) -> list[str]:
    out: list[str] = []
    for condition, block, rendered in _condition_tables(table, columns):
        heading = (
            f"### Condition: {condition} (n = {int(block['n_clips'].max())} clips, {int(block['n_seeds'].max())} "
            "seed(s); mean [95 % clip bootstrap CI])"
        )
        out += [heading, "", *rendered.to_markdown(), ""]
    return out


def _latex_blocks(table: pd.DataFrame, columns: Columns) -> list[str]:
    out: list[str] = []
    for condition, _, rendered in _condition_tables(table, columns):
        out += [f"% condition: {condition}", *rendered.to_latex(), ""]
    return out


def _metric(metric: str, **match) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def select(rows: pd.DataFrame) -> pd.DataFrame:
        hit = rows[rows["metric"] == metric]
        for key, value in match.items():
            hit = hit[hit[key] == value]
        return hit

    return select


def listenability_columns() -> Columns:
    return [(display(m), _metric(m)) for m in LISTENABILITY.names]


def listenability_markdown(table: pd.DataFrame) -> str:
    lines = [
        "## Listenability of the explanations against the clean target",
        "",
        "SI_SDR (dB) and LSD (dB, log-spectral distance) compare each method's listenable explanation with the "
        "target clip inside the contaminated input; interferer_kept is the share of the interferer's energy "
        "left in the explanation and target_kept the target's share (least-squares fit on target and interferer; a "
        "quiet explanation keeps little of either); silent share: explanations with no energy (their SI_SDR is "
        "undefined and left out).",
        "",
    ]
    if table.empty:
        return "\n".join(lines + ["No evaluated condition has a known clean target (only `clean` was evaluated).", ""])
    return "\n".join(lines + _markdown_blocks(table, listenability_columns())) + "\n"


def roundtrip_columns() -> Columns:
    return [
        (f"{display(m)} {label}", _metric(m, domain=domain))
        for m in FAITHFULNESS_METRICS
        for domain, label in (("spectrogram", "spec"), ("heard", "heard"))
    ]


def roundtrip_markdown(table: pd.DataFrame) -> str:
    lines = [
        "## Round-trip faithfulness: spectrogram vs. what a listener hears",
        "",
        "spec: the metric on the masked log1p spectrograms (the papers' L-MAC protocol); heard: the same "
        "metric with the classifier reading the listenable explanation re-analysed by the front end "
        "(masked-out: the removed part resynthesised with the input's phase).",
        "",
    ]
    return "\n".join(lines + _markdown_blocks(table, roundtrip_columns())) + "\n"


def robustness_columns() -> Columns:
    return [(f"{display(m)} {op}", _metric(m, operator=op)) for m in FAITHFULNESS_METRICS for op in OPERATOR_SUFFIX]


def _pairs(ranks: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(ranks["source_a"], ranks["source_b"])))


def _rank_table(ranks: pd.DataFrame) -> Table:
    """Per condition and metric, for each pair of sources: Kendall τ-b [95 % CI] / Spearman ρ."""
    pairs = _pairs(ranks)
    table = Table(
        [Cell("condition", "Condition"), Cell("metric", "Metric"), *(f"{a} vs {b}" for a, b in pairs)],
        align="ll" + "c" * len(pairs),
    )
    for (condition, metric), rows in ranks.groupby(["condition", "metric"], sort=False):
        cells = []
        for a, b in pairs:
            r = rows[(rows["source_a"] == a) & (rows["source_b"] == b)]
            if r.empty or np.isnan(r["kendall_tau"].iloc[0]):
                cells.append(Cell(MISSING))
                continue
            tau, rho = r.iloc[0][["kendall_tau", "tau_ci_low", "tau_ci_high"]], f" / {r['spearman'].iloc[0]:.2f}"
            cells.append(Cell(format_ci(*tau, digits=2) + rho, tex_ci(*tau) + rho))
        table.rows.append([condition, metric, *cells])
    return table


def _rank_markdown(ranks: pd.DataFrame) -> list[str]:
    lines = [
        "### Rank stability of the methods between operators",
        "",
        "Kendall τ-b [95 % clip bootstrap CI] / Spearman ρ between the method rankings by mean; "
        "1 = same order, −1 = reversed, – = a source ranks every method the same.",
        "",
        *_rank_table(ranks).to_markdown(),
        "",
        "Mean (minimum) τ over conditions:",
        "",
    ]
    pairs = _pairs(ranks)
    summary = Table(["metric", *(f"{a} vs {b}" for a, b in pairs)])
    for metric, rows in rank_summary(ranks).groupby("metric", sort=False):
        cells = []
        for a, b in pairs:
            r = rows[(rows["source_a"] == a) & (rows["source_b"] == b)]
            missing = r.empty or np.isnan(r["mean_tau"].iloc[0])
            cells.append(MISSING if missing else f"{r['mean_tau'].iloc[0]:.2f} ({r['min_tau'].iloc[0]:.2f})")
        summary.rows.append([metric, *cells])
    return lines + summary.to_markdown() + [""]


def robustness_markdown(table: pd.DataFrame, ranks: pd.DataFrame) -> str:
    lines = [
        "## Masking-operator robustness",
        "",
        "zero: removed bins set to 0 (silence; the papers' metrics); mean: filled with the clip's mean "
        "log-spectrum; noise: filled with noise of the clip's per-bin mean and std.",
        "",
    ]
    lines += _markdown_blocks(table, robustness_columns())
    return "\n".join(lines + _rank_markdown(ranks)) + "\n"


def _rank_latex(ranks: pd.DataFrame) -> list[str]:
    return ["% rank stability: Kendall tau-b [95 % CI] / Spearman rho", *_rank_table(ranks).to_latex(), ""]


# -- writers --------------------------------------------------------------------------------------


def _write(table: pd.DataFrame, out_csv, out_md, markdown: str, out_tex, latex: list[str]) -> None:
    write_csv(out_csv, table)
    write_text(out_md, markdown)
    write_text(out_tex, "\n".join(latex))


def write_listenability(
    per_sample: Sequence[str | os.PathLike], out_csv, out_md, out_tex, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    table = listenability_summary(read_per_sample(per_sample, LISTENABILITY.columns), n_boot, seed)
    _write(
        table, out_csv, out_md, listenability_markdown(table), out_tex, _latex_blocks(table, listenability_columns())
    )
    return table


def write_roundtrip(
    per_sample: Sequence[str | os.PathLike], out_csv, out_md, out_tex, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    frame = read_per_sample(per_sample, FAITHFULNESS.columns + ROUND_TRIP.columns)
    table = roundtrip_summary(frame, n_boot, seed)
    _write(table, out_csv, out_md, roundtrip_markdown(table), out_tex, _latex_blocks(table, roundtrip_columns()))
    return table


def write_robustness(
    per_sample: Sequence[str | os.PathLike], out_csv, out_ranks, out_md, out_tex, n_boot: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = read_per_sample(per_sample, FAITHFULNESS.columns + OPERATORS.columns)
    table, ranks = robustness_summary(frame, n_boot, seed), rank_stability(frame, n_boot, seed)
    write_csv(out_ranks, ranks)
    latex = _latex_blocks(table, robustness_columns()) + _rank_latex(ranks)
    _write(table, out_csv, out_md, robustness_markdown(table, ranks), out_tex, latex)
    return table, ranks


#: the table of each family beyond the papers, by the evaluation.extras value that scores it
WRITERS = {
    LISTENABILITY.extra: write_listenability,
    ROUND_TRIP.extra: write_roundtrip,
    OPERATORS.extra: write_robustness,
}


def write_table(kind: str, per_sample: Sequence[str | os.PathLike], n_boot: int = 1000, seed: int = 0, **out) -> None:
    """The table of ``kind`` (a key of :data:`WRITERS`) into ``out``: out_csv, out_md, out_tex (and out_ranks)."""
    if kind not in WRITERS:
        raise LmacError(f"unknown table kind '{kind}' (known: {', '.join(WRITERS)})")
    WRITERS[kind](per_sample, n_boot=n_boot, seed=seed, **out)
