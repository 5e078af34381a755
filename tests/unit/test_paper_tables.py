"""Paper-vs-ours tables: the published-numbers file, the comparison and its Markdown/LaTeX, on small hand-made inputs."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lmac.errors import LmacError
from lmac.reporting.paper_comparison import compare
from lmac.reporting.paper_rendering import RunInfo, to_latex, to_markdown, write_paper_tables
from lmac.reporting.published import load_published
from lmac.reporting.table_model import tex_escape

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "config" / "published.yaml"

SMALL = {
    "papers": {"readme": "A README", "paper": "A paper"},
    "methods": {
        "lmac": {"name": "L-MAC"},
        "lmac_td_a0.75": {"name": "LMAC-TD α=0.75"},
        "saliency": {"name": "Saliency"},
        "classifier": {"name": "CNN14"},
        "l2i": {"name": "L2I", "implemented": False, "reason": "L2I is not implemented"},
    },
    "metrics": {
        "AI": {"published_as": "AI"},
        "AD_ref": {"published_as": "AD"},
        "SPS": {"published_as": "SPS"},
        "PG": {"published_as": "pointing game"},
        "frame_F1": {"published_as": "frame F1", "computed": False},
        "test_accuracy": {"published_as": "test accuracy"},
    },
    "notes": [
        {
            "id": "double",
            "text": "published AD applies softmax twice",
            "source": "reference item 1",
            "applies": {"metrics": ["AD_ref"]},
        },
        {
            "id": "td",
            "text": "LMAC-TD config unknown",
            "source": "reference item 7",
            "applies": {"methods": ["lmac_td_a0.75"], "conditions": ["mixture"]},
        },
        {"id": "whole", "text": "the OOD type is unstated", "source": "reference README", "applies": {"tables": ["A"]}},
    ],
    "tables": [
        {
            "id": "A",
            "title": "OOD 50% & more_stuff",
            "paper": "readme",
            "source": "README #1",
            "url": "https://example.org/a",
            "verified": True,
            "condition": "mixture",
            "rows": [
                {"method": "lmac", "AI": 60.0, "AD_ref": 4.0, "SPS": 0.9},
                {"method": "lmac_td_a0.75", "AI": 59.5},
                {"method": "l2i", "AI": 5.0},
                {"method": "saliency", "AI": 1.0},
            ],
        },
        {
            "id": "B",
            "title": "In domain",
            "paper": "paper",
            "source": "Table I",
            "url": "https://example.org/b",
            "verified": False,
            "condition": "in_domain",
            "rows": [
                {"method": "lmac", "AI": 36.25, "note": "a row note"},
                {"method": "lmac", "condition": "speech", "AI": 70.0},
                {"method": "lmac", "condition": "clean", "PG": 0.826, "frame_F1": 0.5},
                {"method": "classifier", "condition": "clean", "test_accuracy": 82.0, "paper": "readme"},
            ],
        },
    ],
}

# ours: lmac and lmac_td_a0.75 under mixture and in_domain; saliency not run; speech not run
OURS = pd.DataFrame(
    [
        {
            "condition": c,
            "method": m,
            "split": "test",
            "metric": metric,
            "mean": mean,
            "ci_low": lo,
            "ci_high": hi,
            "n": 10,
            "n_seeds": 3,
        }
        for c, m, metric, mean, lo, hi in [
            ("mixture", "lmac", "AI", 50.0, 45.0, 55.0),
            ("mixture", "lmac", "AD_ref", 3.0, 2.0, 4.5),
            ("mixture", "lmac", "SPS", 0.95, 0.94, 0.96),
            ("mixture", "lmac_td_a0.75", "AI", 61.5, 55.0, 65.0),
            ("in_domain", "lmac", "AI", 30.0, 20.0, 40.0),
            ("clean", "lmac", "PG", 0.9, 0.85, 0.95),
            ("in_domain", "lmac_td_a0.75", "AI", 66.0, 60.0, 70.0),
        ]
    ]
)


def write(tmp_path: Path, data: dict, name: str = "published.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture
def small(tmp_path):
    return load_published(write(tmp_path, SMALL))


def row(compared: pd.DataFrame, table: str, method: str, metric: str, condition: str | None = None):
    sel = (compared["table"] == table) & (compared["method"] == method) & (compared["metric"] == metric)
    if condition:
        sel &= compared["condition"] == condition
    hits = compared[sel]
    assert len(hits) == 1, hits
    return hits.iloc[0]


# --------------------------------------------------------------------------------------------
# the repository's published.yaml


def test_repository_published_numbers_load_with_every_field():
    pub = load_published(PUBLISHED)
    n_values = sum(
        1
        for t in pub.tables
        for r in t["rows"]
        for k in r
        if k not in ("method", "condition", "note", "paper", "source", "url", "verified")
    )
    assert len(pub.records) == n_values > 100
    for record in pub.records:
        assert set(record) == {
            "table",
            "paper",
            "condition",
            "method",
            "metric",
            "value",
            "source",
            "url",
            "verified",
            "note",
        }
        assert record["paper"] in pub.papers and record["source"] and record["url"].startswith("http")
    # the published AD is compared with our double-softmax AD_ref, never with the textbook AD
    assert pub.metrics["AD_ref"]["published_as"] == "AD" and "AD" not in pub.metrics
    # README tables are verified; the LMAC-TD paper's numbers come from a secondary summary
    verified = {t["id"]: t["verified"] for t in pub.tables}
    assert verified["A"] and verified["B"] and not verified["C"] and not verified["D"]


def test_repository_table_b_row_is_transcribed():
    pub = load_published(PUBLISHED)
    got = {(r["metric"]): r["value"] for r in pub.records if r["table"] == "B" and r["method"] == "lmac_td_a0.75"}
    assert got == {"AI": 59.50, "AD_ref": 3.42, "AG": 21.22, "FF": 0.41, "FidIn": 0.87, "SPS": 0.88, "COMP": 10.35}


# --------------------------------------------------------------------------------------------
# comparison


def test_delta_and_ci_membership(small):
    compared = compare(small, OURS)
    ai = row(compared, "A", "lmac", "AI")
    assert ai.published == 60.0 and ai.ours == 50.0 and ai.delta == pytest.approx(-10.0)
    assert ai.in_ci is False or ai.in_ci == False  # noqa: E712 (numpy bool)
    ad = row(compared, "A", "lmac", "AD_ref")
    assert ad.delta == pytest.approx(-1.0) and bool(ad.in_ci)
    td = row(compared, "A", "lmac_td_a0.75", "AI")
    assert td.delta == pytest.approx(2.0) and (td.ours_ci_low, td.ours_ci_high) == (55.0, 65.0)


def test_missing_rows_get_a_reason_not_a_crash(small):
    compared = compare(small, OURS)
    cases = {
        ("A", "l2i", "AI", None): "L2I is not implemented",
        ("A", "saliency", "AI", None): "saliency was not evaluated",
        ("B", "lmac", "AI", "speech"): "condition speech was not evaluated",
        ("B", "lmac", "frame_F1", "clean"): "does not compute frame F1",
        ("B", "classifier", "test_accuracy", "clean"): "no test_accuracy in the classifier's metrics.json",
    }
    for (table, method, metric, condition), reason in cases.items():
        r = row(compared, table, method, metric, condition)
        assert math.isnan(r.ours) and math.isnan(r.delta) and r.in_ci is None
        assert reason in r.notes[0], (table, method, metric, r.notes)
    md = to_markdown(compared, small, RunInfo())
    l2i = next(line for line in md.splitlines() if "`l2i`" in line)
    assert l2i.split("|")[4].strip() == "—" and l2i.split("|")[5].strip() == "—"


def test_classifier_accuracy_in_percent(small):
    compared = compare(small, OURS, classifier={"test_accuracy": 0.8575, "valid_accuracy": 0.9})
    acc = row(compared, "B", "classifier", "test_accuracy")
    assert acc.ours == pytest.approx(85.75) and acc.delta == pytest.approx(3.75) and acc.in_ci is None


def test_notes_follow_their_selectors(small):
    compared = compare(small, OURS)
    double, td = "published AD applies softmax twice (reference item 1)", "LMAC-TD config unknown (reference item 7)"
    assert double in row(compared, "A", "lmac", "AD_ref").notes
    assert double not in row(compared, "A", "lmac", "AI").notes
    assert td in row(compared, "A", "lmac_td_a0.75", "AI").notes  # method and condition both match
    assert td not in row(compared, "B", "lmac", "AI", "in_domain").notes
    assert "a row note" in row(compared, "B", "lmac", "AI", "in_domain").notes
    # a note selecting a whole table is said once under its title, not on every row
    assert all("OOD type" not in " ".join(n) for n in compared["notes"])
    md = to_markdown(compared, small, RunInfo())
    section_a = md.split("## Table A")[1].split("## Table B")[0]
    assert section_a.count("The OOD type is unstated") == 1
    ad_line = next(line for line in section_a.splitlines() if "AD (ours: AD_ref)" in line)
    number = re.search(r"\[(\d+)\]\s*\|$", ad_line).group(1)
    assert f"[{number}] Published AD applies softmax twice" in section_a


def test_markdown_layout_and_precision(small):
    md = to_markdown(compare(small, OURS), small, RunInfo(dataset="esc50", split="valid", n_seeds=3))
    assert "| L-MAC (`lmac`) | AI ↑ | 60.00 | 50.00 [45.00, 55.00] | -10.00 | no |" in md
    assert "0.826 | 0.900 [0.850, 0.950] | +0.074 | no" in md  # the published value's three decimals kept
    assert "| condition | method |" in md.split("## Table B")[1]  # several conditions: a condition column
    assert "Not the paper protocol" not in md and "3 seed(s)" in md


def test_header_says_when_the_run_is_not_the_paper_protocol(small):
    md = to_markdown(compare(small, OURS), small, RunInfo(dataset="synthetic", split="test"))
    assert "Not the paper protocol" in md and "synthetic" in md
    assert "scores fold 4 (valid)" in md


def test_latex_escapes_and_balances(small):
    assert (
        tex_escape("lmac_td_a0.75 50% & #1 $x {y} ~^ a\\b")
        == r"lmac\_td\_a0.75 50\% \& \#1 \$x \{y\} \textasciitilde{}\textasciicircum{} a\textbackslash{}b"
    )
    assert tex_escape("α ↑ —") == r"$\alpha$ $\uparrow$ ---"
    tex = to_latex(compare(small, OURS), small, RunInfo(dataset="synthetic"))
    assert r"OOD 50\% \& more\_stuff" in tex and r"LMAC-TD $\alpha$=0.75" in tex and r"AD (ours: AD\_ref)" in tex
    assert r"& $-10.00$ &" in tex  # a minus sign, not a hyphen
    body = re.sub(r"\\[{}%&#$_]", "", tex)  # escaped characters do not count
    assert body.count("{") == body.count("}")
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2
    for line in tex.splitlines():  # no unescaped specials outside commands
        if not line.startswith("%"):
            assert not re.search(r"(?<!\\)[%#]", line), line


def test_write_paper_tables_end_to_end(tmp_path, small):
    metrics = tmp_path / "metrics.csv"
    OURS.to_csv(metrics, index=False)
    classifier = tmp_path / "metrics.json"
    classifier.write_text(json.dumps({"test_accuracy": 0.8}))
    out = {k: tmp_path / f"paper.{k}" for k in ("md", "tex", "csv")}
    write_paper_tables(metrics, write(tmp_path, SMALL), out["md"], out["tex"], out["csv"], classifier, "esc50")
    long = pd.read_csv(out["csv"])
    assert len(long) == len(small.records)
    assert "the OOD type is unstated" in long[long["table"] == "A"]["notes"].iloc[0]  # table notes kept in the CSV
    assert row(long, "B", "classifier", "test_accuracy").ours == pytest.approx(80.0)
    assert out["md"].read_text().startswith("# Paper vs. ours") and r"\toprule" in out["tex"].read_text()


# --------------------------------------------------------------------------------------------
# validation: one line naming the key


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d["tables"][0]["rows"][0].update(AI="high"), "key 'tables.0.rows.0.AI'"),
        (
            lambda d: d["tables"][0]["rows"][0].update(Fidelity=0.5),
            "key 'tables.0.rows.0.Fidelity': not declared under metrics",
        ),
        (lambda d: d["tables"][0]["rows"][1].update(method="lmac_td"), "key 'tables.0.rows.1.method'"),
        (lambda d: d["tables"][1].update(condition="indomain"), "key 'tables.1.condition': 'indomain' is not one of"),
        (lambda d: d["tables"][1].update(id="A"), "key 'tables.1.id': table id 'A' is used twice"),
        (lambda d: d["tables"][0].update(paper="icml"), "key 'tables.0.paper'"),
        (lambda d: d["methods"].update(gradCAM={"name": "GradCAM"}), "key 'methods.gradCAM': not an lmac method"),
        (lambda d: d["methods"]["l2i"].pop("reason"), "key 'methods.l2i': 'implemented: false' needs a 'reason'"),
        (lambda d: d["metrics"].update(Fidelity={"published_as": "Fid"}), "key 'metrics.Fidelity': not an lmac metric"),
        (lambda d: d["notes"][1]["applies"].update(methods=["lmac_tda0.75"]), "key 'notes.1.applies.methods'"),
        (lambda d: d["tables"][0].pop("verified"), "'verified' is a required property"),
    ],
)
def test_bad_published_file_is_named_in_one_line(tmp_path, edit, needle):
    data = copy.deepcopy(SMALL)
    edit(data)
    with pytest.raises(LmacError) as info:
        load_published(write(tmp_path, data))
    message = str(info.value)
    assert needle in message and "published.yaml" in message and "\n" not in message


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(LmacError, match="absent.yaml: file not found"):
        load_published(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("tables: [\n")
    with pytest.raises(LmacError, match="not valid YAML"):
        load_published(tmp_path / "broken.yaml")


def test_our_table_without_ci_columns_is_refused(small):
    with pytest.raises(LmacError, match="ci_low"):
        compare(small, OURS.drop(columns=["ci_low"]))
