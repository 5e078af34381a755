"""The papers' qualitative claims, checked on our numbers: PASS, FAIL or NOT RUN, never hidden.

Claims live in a YAML file (``config/claims.yaml``; the rules and their margins are documented
there). Each claim expands into comparisons, one per method × compared method × metric ×
condition (or one per method for the randomisation rules). Every comparison reports what it
measured: the method's mean [95 % CI], the compared method's, the paired difference's, the
per-seed means, the numbers of clips and seeds, and its verdict under the claim's rule. CIs
bootstrap clips, pooling the rows of every seed and contaminated version of a clip
(:mod:`lmac.reporting.clip_stats`); differences are paired per (seed, clip, version), since every
method is evaluated on identical inputs.

A claim PASSes when all its comparisons pass (an intersection-union test: each comparison at the
95 % level, no multiplicity correction needed for "all"), FAILs when any evaluated comparison
fails, and is NOT RUN otherwise (some comparison lacks its method, condition, metric or file),
with the reason in the comparison's ``note``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..io import write_csv, write_text
from .claims_spec import (  # noqa: F401 (the claims file's loading, imported from here before it moved)
    DIRECTION,
    PAIRWISE,
    RANDOMISATION,
    RULES,
    THRESHOLD,
    Claim,
    claim_methods,
    load_claims,
    parse_claims,
)
from .clip_stats import paired, per_seed_means, summary
from .table_model import Table, format_ci, html_page

PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"
RULE_TEXT = {
    "better": "CI of d·(method − versus) > 0",
    "not_worse": "CI of d·(method − versus) > −margin",
    "below": "CI of the mean < threshold",
    "above": "CI of the mean > threshold",
    "randomisation_degrades": "Spearman CI at the last cascading step < threshold",
    "randomisation_insensitive": "Spearman CI at the last cascading step > threshold",
}
COLUMNS = [
    "claim",
    "rule",
    "metric",
    "condition",
    "method",
    "versus",
    "method_mean",
    "method_ci_low",
    "method_ci_high",
    "versus_mean",
    "versus_ci_low",
    "versus_ci_high",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "bound",
    "per_seed",
    "n_clips",
    "n_seeds",
    "verdict",
    "note",
]


# -- checking ---------------------------------------------------------------------------------------


def _row(claim: Claim, **values) -> dict:
    return {
        **dict.fromkeys(COLUMNS, np.nan),
        "claim": claim.id,
        "rule": claim.rule,
        "versus": "",
        "note": "",
        "per_seed": "",
        **values,
    }


def _seeds_text(means: dict[int, float]) -> str:
    return "; ".join(f"{s}: {v:+.3f}" if np.isfinite(v) else f"{s}: –" for s, v in means.items())


def _missing(frame: pd.DataFrame, methods: Sequence[str], condition: str, metric: str) -> str:
    if condition not in set(frame["condition"]):
        return f"condition {condition} not evaluated"
    present = set(frame.loc[frame["condition"] == condition, "method"])
    absent = [m for m in methods if m not in present]
    if absent:
        return f"method {', '.join(absent)} not evaluated on {condition}"
    if metric not in frame.columns:
        return f"metric {metric} not in the per-sample results (evaluation.extras off?)"
    return ""


def _pairwise(
    claim: Claim, frame: pd.DataFrame, method: str, versus: str, metric: str, condition: str, n_boot: int, seed: int
) -> dict:
    row = _row(claim, metric=metric, condition=condition, method=method, versus=versus)
    reason = _missing(frame, [method, versus], condition, metric)
    if reason:
        return {**row, "verdict": NOT_RUN, "note": reason}
    pairs = paired(frame, metric, method, versus, condition).dropna(subset=["a", "b"])
    if pairs.empty:
        return {**row, "verdict": NOT_RUN, "note": f"no item where both {method} and {versus} have {metric}"}
    a, b, d = (summary(pairs[k], pairs["id"], n_boot, seed) for k in ("a", "b", "diff"))
    direction = 1.0 if DIRECTION[metric] else -1.0
    # the CI's end on the "worse" side, in the better direction
    lower = d["ci_low"] if direction > 0 else -d["ci_high"]
    margin = 0.0 if claim.rule == "better" else claim.margin[metric]
    verdict = PASS if lower > -margin else FAIL
    return {
        **row,
        "method_mean": a["mean"],
        "method_ci_low": a["ci_low"],
        "method_ci_high": a["ci_high"],
        "versus_mean": b["mean"],
        "versus_ci_low": b["ci_low"],
        "versus_ci_high": b["ci_high"],
        "diff_mean": d["mean"],
        "diff_ci_low": d["ci_low"],
        "diff_ci_high": d["ci_high"],
        "bound": margin,
        "per_seed": _seeds_text(per_seed_means(pairs["diff"], pairs["seed"])),
        "n_clips": d["n_clips"],
        "n_seeds": int(pairs["seed"].nunique()),
        "verdict": verdict,
    }


def _threshold(
    claim: Claim, frame: pd.DataFrame, method: str, metric: str, condition: str, n_boot: int, seed: int
) -> dict:
    row = _row(claim, metric=metric, condition=condition, method=method)
    reason = _missing(frame, [method], condition, metric)
    if reason:
        return {**row, "verdict": NOT_RUN, "note": reason}
    rows = frame[(frame["condition"] == condition) & (frame["method"] == method)].dropna(subset=[metric])
    if rows.empty:
        return {**row, "verdict": NOT_RUN, "note": f"{method} has no {metric} value on {condition}"}
    s = summary(rows[metric], rows["id"], n_boot, seed)
    limit = claim.threshold[metric]
    ok = s["ci_high"] < limit if claim.rule == "below" else s["ci_low"] > limit
    return {
        **row,
        "method_mean": s["mean"],
        "method_ci_low": s["ci_low"],
        "method_ci_high": s["ci_high"],
        "bound": limit,
        "per_seed": _seeds_text(per_seed_means(rows[metric], rows["seed"])),
        "n_clips": s["n_clips"],
        "n_seeds": int(rows["seed"].nunique()),
        "verdict": PASS if ok else FAIL,
    }


def _randomisation(claim: Claim, cascading: pd.DataFrame | None, method: str, why_missing: str) -> dict:
    row = _row(claim, metric="spearman", condition="clean", method=method, versus=f"decoder {claim.decoder}")
    if cascading is None:
        return {**row, "verdict": NOT_RUN, "note": why_missing}
    needed = ["method", "decoder", "step", "spearman_mean", "spearman_ci_low", "spearman_ci_high"]
    lacking = [c for c in needed if c not in cascading.columns]
    if lacking:
        return {**row, "verdict": NOT_RUN, "note": f"cascading summary lacks {', '.join(lacking)}"}
    rows = cascading[(cascading["method"] == method) & (cascading["decoder"] == claim.decoder)]
    rows = rows.dropna(subset=["spearman_mean"])
    if rows.empty:
        return {**row, "verdict": NOT_RUN, "note": f"no cascading result for {method} with decoder {claim.decoder}"}
    last = rows.loc[rows["step"].astype(int).idxmax()]
    lo, hi = float(last["spearman_ci_low"]), float(last["spearman_ci_high"])
    ok = hi < claim.threshold if claim.rule == "randomisation_degrades" else lo > claim.threshold
    block = f", block {last['block']}" if "block" in last else ""
    return {
        **row,
        "method_mean": float(last["spearman_mean"]),
        "method_ci_low": lo,
        "method_ci_high": hi,
        "bound": claim.threshold,
        "n_clips": int(last["n"]) if "n" in last else np.nan,
        "n_seeds": int(last["n_seeds"]) if "n_seeds" in last else np.nan,
        "note": f"last step {int(last['step'])}{block}",
        "verdict": PASS if ok else FAIL,
    }


def overall_verdict(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its comparisons': FAIL if any fails, PASS if all pass, else NOT RUN."""
    verdicts = list(verdicts)
    if FAIL in verdicts:
        return FAIL
    return PASS if verdicts and all(v == PASS for v in verdicts) else NOT_RUN


def check_claims(
    claims: Sequence[Claim],
    frame: pd.DataFrame,
    cascading: pd.DataFrame | None = None,
    conditions: Sequence[str] = (),
    n_boot: int = 1000,
    seed: int = 0,
    cascading_missing: str = "no cascading-randomisation summary (results/<run>/sanity/cascading_summary.csv)",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(comparisons, verdicts): one row per comparison, one per claim (see the module docstring)."""
    for key, default in (("seed", 0), ("version", 0)):
        if key not in frame.columns:
            frame = frame.assign(**{key: default})
    rows = []
    for claim in claims:
        if claim.rule in RANDOMISATION:
            rows += [_randomisation(claim, cascading, m, cascading_missing) for m in claim.methods]
            continue
        for condition in claim.conditions or list(conditions):
            for metric in claim.metrics:
                for method in claim.methods:
                    if claim.rule in PAIRWISE:
                        rows += [
                            _pairwise(claim, frame, method, v, metric, condition, n_boot, seed) for v in claim.versus
                        ]
                    else:
                        rows.append(_threshold(claim, frame, method, metric, condition, n_boot, seed))
    comparisons = pd.DataFrame(rows, columns=COLUMNS)
    verdicts = []
    for claim in claims:
        mine = comparisons[comparisons["claim"] == claim.id]
        counts = mine["verdict"].value_counts()
        n_fail, n_pass = int(counts.get(FAIL, 0)), int(counts.get(PASS, 0))
        verdict = overall_verdict(mine["verdict"])
        verdicts.append(
            {
                "claim": claim.id,
                "statement": claim.statement,
                "source": claim.source,
                "rule": claim.rule,
                "decision": RULE_TEXT[claim.rule],
                "verdict": verdict,
                "passed": n_pass,
                "failed": n_fail,
                "not_run": len(mine) - n_pass - n_fail,
                "comparisons": len(mine),
            }
        )
    return comparisons, pd.DataFrame(verdicts)


# -- rendering -------------------------------------------------------------------------------------


def _rule_bound(row) -> str:
    if row["rule"] == "better":
        return "> 0"
    if row["rule"] == "not_worse":
        return f"> −{row['bound']:g}"
    if row["rule"] in ("below", "randomisation_degrades"):
        return f"< {row['bound']:g}"
    return f"> {row['bound']:g}"


def _verdicts_table(verdicts: pd.DataFrame) -> Table:
    table = Table(["claim", "statement", "rule", "verdict", "passed / failed / not run"])
    for v in verdicts.itertuples():
        table.rows.append(
            [v.claim, v.statement, v.decision, f"**{v.verdict}**", f"{v.passed} / {v.failed} / {v.not_run}"]
        )
    return table


def _cis(r) -> list[str]:
    """The method's, the compared method's and the difference's mean [CI] of one comparison."""
    return [format_ci(r[f"{k}_mean"], r[f"{k}_ci_low"], r[f"{k}_ci_high"]) for k in ("method", "versus", "diff")]


def _comparisons_table(mine: pd.DataFrame) -> Table:
    table = Table(
        [
            *("metric", "condition", "method", "versus"),
            *("method mean [CI]", "versus mean [CI]", "Δ mean [CI]", "per-seed Δ or mean", "bound"),
            *("n clips / seeds", "verdict", "note"),
        ]
    )
    for _, r in mine.iterrows():
        seeds_n = "–" if pd.isna(r["n_clips"]) else f"{int(r['n_clips'])} / {int(r['n_seeds'])}"
        table.rows.append(
            [
                *(r["metric"], str(r["condition"]), str(r["method"]), str(r["versus"]) or "–", *_cis(r)),
                *(r["per_seed"] or "–", _rule_bound(r), seeds_n, f"**{r['verdict']}**", r["note"]),
            ]
        )
    return table


def to_markdown(
    comparisons: pd.DataFrame, verdicts: pd.DataFrame, seeds: Sequence[int] = (), conditions: Sequence[str] = ()
) -> str:
    n_seeds = len(seeds)
    lines = [
        "## Claims of the papers, checked",
        "",
        f"Seeds {', '.join(map(str, seeds)) or '–'}; conditions {', '.join(conditions) or '–'}. Means with 95 % "
        "bootstrap CIs over clips (all seeds pooled); differences paired per item; d = +1 where higher is "
        "better, −1 where lower is. A claim passes only if every comparison passes; NOT RUN: data missing "
        "(see the note).",
        "",
    ]
    if 0 < n_seeds < 3:
        lines += [f"**Only {n_seeds} seed(s): verdicts are preliminary (the check is meant for ≥ 3).**", ""]
    lines += [*_verdicts_table(verdicts).to_markdown(), ""]
    for v in verdicts.itertuples():
        lines += [f"### {v.claim}: {v.verdict}", "", f"{v.statement}. Source: {v.source}. Rule: {v.decision}.", ""]
        lines += [*_comparisons_table(comparisons[comparisons["claim"] == v.claim]).to_markdown(), ""]
    return "\n".join(lines) + "\n"


def to_latex(verdicts: pd.DataFrame) -> str:
    table = Table(["Claim", "Verdict", "Passed / failed / not run"], align=r"p{0.5\linewidth}lc")
    table.rows = [[v.statement, v.verdict, f"{v.passed} / {v.failed} / {v.not_run}"] for v in verdicts.itertuples()]
    return "\n".join([*table.to_latex(), ""])


def _number(value) -> str:
    """A count or bound as text: integers without decimals, nothing for a missing value."""
    if pd.isna(value):
        return "–"
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_html(comparisons: pd.DataFrame, verdicts: pd.DataFrame, seeds: Sequence[int] = ()) -> str:
    """The verdicts and every comparison as one standalone page (the Snakemake report shows HTML inline)."""
    keys = ["claim", "statement", "source", "decision", "verdict", "passed", "failed", "not_run"]
    summary = Table(keys, [[_number(v) for v in row] for row in verdicts[keys].itertuples(index=False)])
    shown = Table(
        [
            *("claim", "metric", "condition", "method", "versus"),
            *("method mean [CI]", "versus mean [CI]", "Δ mean [CI]", "per_seed", "bound"),
            *("n_clips", "n_seeds", "verdict", "note"),
        ]
    )
    for _, r in comparisons.iterrows():
        where = [_number(r[k]) for k in ("claim", "metric", "condition", "method")]
        counts = [_number(r["n_clips"]), _number(r["n_seeds"])]
        shown.rows.append(
            [*where, r["versus"], *_cis(r), r["per_seed"], _rule_bound(r), *counts, r["verdict"], r["note"]]
        )
    intro = (
        f"<p>The papers' claims on our numbers (seeds {', '.join(map(str, seeds)) or '–'}): 95 % "
        "bootstrap CIs over clips, differences paired per item; NOT RUN = data missing (see the note).</p>"
    )
    return html_page("Claims", [intro, summary.to_html(), "<h3>Comparisons</h3>", shown.to_html()])


def write_claims(
    claims_file: str | os.PathLike,
    per_sample: pd.DataFrame,
    out_csv,
    out_md,
    out_tex,
    cascading_csv: str | os.PathLike | None = None,
    conditions: Sequence[str] = (),
    seeds: Sequence[int] = (),
    n_boot: int = 1000,
    seed: int = 0,
    out_html: str | os.PathLike | None = None,
    cascading_missing: str | None = None,
) -> pd.DataFrame:
    """Check the claims of ``claims_file`` on ``per_sample`` and write the comparisons (CSV) and tables.

    Without ``cascading_csv`` the randomisation claims are NOT RUN, with ``cascading_missing`` as the reason.
    """
    claims = load_claims(claims_file)
    cascading = None
    missing = cascading_missing or "no cascading-randomisation summary (the sanity checks were not run)"
    if cascading_csv is not None:
        try:
            cascading = pd.read_csv(cascading_csv)
        except FileNotFoundError:
            missing = f"{cascading_csv}: not produced"
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise LmacError(f"{cascading_csv}: not a readable CSV ({err})") from None
    comparisons, verdicts = check_claims(claims, per_sample, cascading, conditions, n_boot, seed, missing)
    statements = verdicts.set_index("claim")["statement"]
    write_csv(out_csv, comparisons.assign(statement=comparisons["claim"].map(statements)))
    write_text(out_md, to_markdown(comparisons, verdicts, seeds, conditions))
    write_text(out_tex, to_latex(verdicts))
    if out_html:
        write_text(out_html, to_html(comparisons, verdicts, seeds))
    return verdicts
