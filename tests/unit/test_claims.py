"""Claims check: PASS / FAIL / NOT RUN decisions on hand-made per-sample tables, and claim-file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmac.errors import LmacError
from lmac.reporting.claims import (
    FAIL,
    NOT_RUN,
    PASS,
    check_claims,
    claim_methods,
    load_claims,
    parse_claims,
    write_claims,
)

REPO = Path(__file__).resolve().parents[2]


def per_sample(
    values: dict[str, dict[str, float]],
    condition: str = "mixture",
    clips: int = 12,
    seeds=(1, 2, 3),
    spread: float = 0.05,
) -> pd.DataFrame:
    """{method: {metric: mean}} → rows for clips × seeds × 2 versions, with a small clip-dependent jitter."""
    rng = np.random.default_rng(0)
    noise = {(s, c, v): rng.normal(0, spread) for s in seeds for c in range(clips) for v in range(2)}
    rows = []
    for method, metrics in values.items():
        for (s, c, v), e in noise.items():
            rows.append(
                {
                    "condition": condition,
                    "method": method,
                    "id": f"clip{c}",
                    "seed": s,
                    "version": v,
                    **{m: mean * (1 + e) for m, mean in metrics.items()},
                }
            )
    return pd.DataFrame(rows)


def claim(**entry) -> dict:
    return {"id": "c", "statement": "s", "source": "paper", **entry}


def verdict(claims, frame, **kw) -> tuple[str, pd.DataFrame]:
    comparisons, verdicts = check_claims(
        parse_claims({"claims": claims}), frame, conditions=["mixture"], n_boot=200, **kw
    )
    return verdicts["verdict"].iloc[0], comparisons


def test_better_passes_when_the_paired_difference_is_clearly_positive():
    frame = per_sample({"lmac": {"AI": 40.0}, "saliency": {"AI": 5.0}, "gradcam": {"AI": 60.0}})
    ok, rows = verdict([claim(rule="better", method="lmac", versus=["saliency"], metrics=["AI"])], frame)
    assert ok == PASS
    row = rows.iloc[0]
    assert row["diff_mean"] == pytest.approx(35.0, abs=1.0) and row["diff_ci_low"] > 0
    assert row["n_clips"] == 12 and row["n_seeds"] == 3 and row["per_seed"].count(":") == 3
    assert (
        verdict([claim(rule="better", method="lmac", versus=["saliency", "gradcam"], metrics=["AI"])], frame)[0] == FAIL
    )


def test_lower_is_better_metrics_are_compared_in_their_direction():
    frame = per_sample({"td": {"LSD": 10.0, "AD": 30.0}, "lmac": {"LSD": 20.0, "AD": 10.0}})
    assert verdict([claim(rule="better", method="td", versus=["lmac"], metrics=["LSD"])], frame)[0] == PASS
    assert verdict([claim(rule="better", method="td", versus=["lmac"], metrics=["AD"])], frame)[0] == FAIL


def test_an_overlapping_difference_fails_better():
    frame = per_sample({"a": {"AI": 20.0}, "b": {"AI": 20.0}}, spread=0.3)
    assert verdict([claim(rule="better", method="a", versus=["b"], metrics=["AI"])], frame)[0] == FAIL


def test_not_worse_uses_the_margin():
    frame = per_sample({"ft": {"FF": 0.58}, "lmac": {"FF": 0.60}}, spread=0.01)
    rule = claim(rule="not_worse", method="ft", versus=["lmac"], metrics=["FF"], margin={"FF": 0.05})
    assert verdict([rule], frame)[0] == PASS
    assert verdict([{**rule, "margin": {"FF": 0.005}}], frame)[0] == FAIL


def test_thresholds():
    frame = per_sample({"saliency": {"AI": 2.0}, "ig": {"AI": 30.0}})
    below = claim(rule="below", method=["saliency"], metrics=["AI"], threshold={"AI": 10})
    assert verdict([below], frame)[0] == PASS
    assert verdict([{**below, "method": ["saliency", "ig"]}], frame)[0] == FAIL
    assert verdict([{**below, "rule": "above", "method": ["ig"]}], frame)[0] == PASS


def test_a_missing_method_or_condition_is_not_run_and_never_a_pass():
    frame = per_sample({"lmac": {"AI": 40.0}, "saliency": {"AI": 5.0}})
    ok, rows = verdict([claim(rule="better", method="lmac", versus=["saliency", "shap"], metrics=["AI"])], frame)
    assert ok == NOT_RUN
    assert list(rows["verdict"]) == [PASS, NOT_RUN] and "shap not evaluated" in rows["note"].iloc[1]
    ok, rows = verdict(
        [claim(rule="better", method="lmac", versus=["saliency"], metrics=["AI"], conditions=["speech"])], frame
    )
    assert ok == NOT_RUN and "condition speech not evaluated" in rows["note"].iloc[0]
    ok, rows = verdict([claim(rule="better", method="lmac", versus=["saliency"], metrics=["SI_SDR"])], frame)
    assert ok == NOT_RUN and "SI_SDR" in rows["note"].iloc[0]
    # a failing comparison decides even when another is not run
    frame = per_sample({"lmac": {"AI": 4.0}, "saliency": {"AI": 5.0}})
    assert verdict([claim(rule="better", method="lmac", versus=["saliency", "shap"], metrics=["AI"])], frame)[0] == FAIL


def test_randomisation_claims_read_the_last_cascading_step():
    cascading = pd.DataFrame(
        [
            {
                "method": "lmac",
                "decoder": "fixed",
                "step": 0,
                "block": "none",
                "n": 8,
                "n_seeds": 1,
                "spearman_mean": 1.0,
                "spearman_ci_low": 1.0,
                "spearman_ci_high": 1.0,
            },
            {
                "method": "lmac",
                "decoder": "fixed",
                "step": 7,
                "block": "conv_block1",
                "n": 8,
                "n_seeds": 1,
                "spearman_mean": 0.2,
                "spearman_ci_low": 0.1,
                "spearman_ci_high": 0.3,
            },
            {
                "method": "gradcam",
                "decoder": "none",
                "step": 7,
                "block": "conv_block1",
                "n": 8,
                "n_seeds": 1,
                "spearman_mean": 0.4,
                "spearman_ci_low": 0.3,
                "spearman_ci_high": 0.6,
            },
        ]
    )
    degrades = claim(rule="randomisation_degrades", method="lmac", decoder="fixed", threshold=0.5)
    ok, rows = verdict([degrades], pd.DataFrame(), cascading=cascading)
    assert ok == PASS and rows["method_mean"].iloc[0] == 0.2 and "step 7" in rows["note"].iloc[0]
    insensitive = claim(rule="randomisation_insensitive", method="gradcam", decoder="none", threshold=0.5)
    assert verdict([insensitive], pd.DataFrame(), cascading=cascading)[0] == FAIL
    assert verdict([{**degrades, "decoder": "retrained"}], pd.DataFrame(), cascading=cascading)[0] == NOT_RUN
    ok, rows = verdict([degrades], pd.DataFrame())
    assert ok == NOT_RUN and "cascading" in rows["note"].iloc[0]


@pytest.mark.parametrize(
    "entry, message",
    [
        (claim(rule="beats", method="a", versus=["b"], metrics=["AI"]), "key 'claims.0.rule': 'beats' is not one of"),
        (
            claim(rule="not_worse", method="a", versus=["b"], metrics=["AI", "FF"], margin={"AI": 1}),
            "key 'claims.0.margin': no value for metric(s) FF",
        ),
        (claim(rule="better", method="a", metrics=["AI"]), "key 'claims.0': 'versus' is a required property"),
        (
            claim(rule="better", method="a", versus=["b"], metrics=["MM"]),
            "key 'claims.0.metrics': 'MM' has no better direction",
        ),
        (claim(rule="randomisation_degrades", method="a", threshold=0.5), "'decoder' is a required property"),
        (claim(rule="better", method="a", versus=["b"], metrics=["AI"], typo=1), "('typo' was unexpected)"),
        ({"id": "c", "rule": "better"}, "key 'claims.0': 'statement' is a required property"),
    ],
)
def test_bad_claims_are_one_line_errors_naming_the_claim(entry, message):
    with pytest.raises(LmacError) as err:
        parse_claims({"claims": [entry]}, "claims.yaml")
    assert str(err.value).startswith("claims.yaml: key 'claims.0")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_repository_claims_file_loads(tmp_path):
    claims = load_claims(REPO / "config" / "claims.yaml")
    assert len(claims) >= 6 and {"lmac", "lmac_ft", "lmac_td_a0.75", "saliency"} <= set(claim_methods(claims))
    with pytest.raises(LmacError, match="absent.yaml: claims file not found"):
        load_claims(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("claims: [")
    with pytest.raises(LmacError, match="not valid YAML"):
        load_claims(tmp_path / "bad.yaml")


def test_write_claims_reports_every_verdict(tmp_path):
    (tmp_path / "claims.yaml").write_text(
        "claims:\n"
        "  - {id: good, statement: L-MAC wins, source: p, rule: better, method: lmac, versus: [saliency], metrics: [AI]}\n"
        "  - {id: bad, statement: saliency wins, source: p, rule: better, method: saliency, versus: [lmac], metrics: [AI]}\n"
        "  - {id: absent, statement: shap loses, source: p, rule: better, method: lmac, versus: [shap], metrics: [AI]}\n"
        "  - {id: sane, statement: degrades, source: p, rule: randomisation_degrades, method: lmac, decoder: fixed, threshold: 0.5}\n"
    )
    frame = per_sample({"lmac": {"AI": 40.0}, "saliency": {"AI": 5.0}})
    out = {k: tmp_path / f"claims.{k}" for k in ("csv", "md", "tex", "html")}
    verdicts = write_claims(
        tmp_path / "claims.yaml",
        frame,
        out["csv"],
        out["md"],
        out["tex"],
        tmp_path / "no_sanity.csv",
        ["mixture"],
        [1, 2, 3],
        n_boot=200,
        out_html=out["html"],
    )
    assert list(verdicts["verdict"]) == [PASS, FAIL, NOT_RUN, NOT_RUN]
    md = out["md"].read_text()
    assert "**FAIL**" in md and "**NOT RUN**" in md and "no_sanity.csv: not produced" in md
    assert "preliminary" not in md  # three seeds
    assert set(pd.read_csv(out["csv"])["claim"]) == {"good", "bad", "absent", "sane"}
    assert "FAIL" in out["tex"].read_text() and "<table" in out["html"].read_text()


def test_claims_figure_orients_every_rule_so_that_right_is_better(tmp_path):
    from lmac.reporting.claims_figure import claims_figure, oriented

    (tmp_path / "claims.yaml").write_text(
        "claims:\n"
        "  - {id: good, statement: s, source: p, rule: better, method: lmac, versus: [saliency], metrics: [AI, AD]}\n"
        "  - {id: low, statement: s, source: p, rule: below, method: saliency, metrics: [AI], threshold: {AI: 10}}\n"
        "  - {id: sane, statement: s, source: p, rule: randomisation_degrades, method: lmac, decoder: fixed, threshold: 0.5}\n"
    )
    frame = per_sample({"lmac": {"AI": 40.0, "AD": 5.0}, "saliency": {"AI": 5.0, "AD": 50.0}})
    out = {k: tmp_path / f"claims.{k}" for k in ("csv", "md", "tex")}
    write_claims(
        tmp_path / "claims.yaml", frame, out["csv"], out["md"], out["tex"], None, ["mixture"], [1, 2, 3], n_boot=200
    )
    rows = pd.read_csv(out["csv"])
    ai, ad, below = (
        rows[(rows["claim"] == c) & (rows["metric"] == m)].iloc[0]
        for c, m in (("good", "AI"), ("good", "AD"), ("low", "AI"))
    )
    # AI ↑: lmac − saliency ≈ +35 stays positive; AD ↓: lmac − saliency ≈ −45 becomes +45; both right of 0
    low, mean, high, line = oriented(ai)
    assert line == 0 and 0 < low <= mean <= high and mean == pytest.approx(35, abs=3)
    low, mean, high, line = oriented(ad)
    assert line == 0 and 0 < low <= mean <= high and mean == pytest.approx(45, abs=3)
    # below 10: saliency's AI ≈ 5 is drawn as −5 against −10, right of the line (a PASS)
    low, mean, high, line = oriented(below)
    assert below["verdict"] == PASS and line == -10 and low > line and mean == pytest.approx(-5, abs=1)
    claims_figure(out["csv"], tmp_path / "claims.png", tmp_path / "claims.pdf")
    assert (tmp_path / "claims.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "claims.pdf").read_bytes()[
        :4
    ] == b"%PDF"
