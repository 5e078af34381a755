"""Are the embedded default's learned explainers converged? Their scores at the default epochs vs twice them.

Trains every learned explainer of config/config.yaml (L-MAC, L-MAC FT, LMAC-TD per α) once with the
configured epochs and once with twice as many, on the same LMAC-TD encoder/decoder, evaluates
both on the clean and mixture conditions (L-MAC FT's doubled side starts from the default side's L-MAC,
its initialisation, so that it measures L-MAC FT's own training, not L-MAC's), and compares each faithfulness metric: a model counts as
converged on a metric when the two means differ by no more than the half-width of the default run's
95 % bootstrap CI (clips resampled). Everything upstream of the explainers (data, classifier, LMAC-TD's
pre-trained encoder/decoder: a basis, not an explainer, whose own training another length would change)
is computed once and shared. LMAC-TD's resynthesis quality, the SI-SNR of D(E(x)) to x on the
validation clips, is reported from the training histories. Writes ``benchmarks/convergence.json``;
``benchmarks/render_docs.py`` turns it into docs/convergence.md. Usage:

    .venv/bin/python benchmarks/convergence.py [--cores 2] [--default-run DIR]

``--default-run`` reuses a finished run of the embedded default (e.g. ``embedded_default.py --keep DIR``)
for the default-epoch side instead of training it again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmac.evaluation.metrics import FAITHFULNESS_METRICS  # noqa: E402
from lmac.explainers.registry import expand_methods, is_learned  # noqa: E402
from lmac.reporting.clip_stats import read_per_sample, summary  # noqa: E402

CONDITIONS = ("clean", "mixture")
# the run folders (results/<run>/) of the default and the doubled runs
RUNS = {"default": "embedded", "doubled": "doubled", "ft_doubled": "ft_doubled"}
# doubled from the default side's model of the first (its initialisation), in a run of its own
STARTS_FROM = {"lmac_ft": "lmac"}
# shared upstream outputs the doubled run takes from the default one (mtimes kept: Snakemake sees them done)
SHARED_RESULTS = ("data", "classifier", "explainers/lmac_td_encoder_decoder")


def doubled(config: dict) -> dict:
    """The overlay that doubles every explainer training."""
    return {
        "lmac": {"epochs": 2 * config["lmac"]["epochs"]},
        "lmac_ft": {"epochs": 2 * config.get("lmac_ft", {}).get("epochs", config["lmac"]["epochs"])},
        "lmac_td": {"epochs": 2 * config.get("lmac_td", {}).get("epochs", 1)},
    }


def run(workdir: Path, overlay: dict, targets: list[str], cores: int) -> float:
    """snakemake on the embedded default plus ``overlay`` in ``workdir``; returns the wall time."""
    (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    snakemake = Path(sys.executable).with_name("snakemake")
    # targets first: --configfile and --resources take every word after them
    cmd = [
        str(snakemake),
        *targets,
        "--snakefile",
        str(ROOT / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        "--workflow-profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--configfile",
        str(workdir / "overlay.yaml"),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"snakemake failed in {workdir}")
    return time.monotonic() - t0


def history(workdir: Path, run_name: str, model: str, seed: int) -> pd.DataFrame:
    path = (
        workdir
        / "results"
        / run_name
        / "explainers"
        / model
        / (f"seed{seed}" if seed is not None else "")
        / "history.csv"
    )
    return pd.read_csv(path)


def compare(default: pd.DataFrame, longer: pd.DataFrame, n_boot: int, seed: int) -> list[dict]:
    rows = []
    for (condition, method), base in default.groupby(["condition", "method"]):
        other = longer[(longer["condition"] == condition) & (longer["method"] == method)]
        for metric in FAITHFULNESS_METRICS:
            a = summary(base[metric], base["id"] + "@" + base["version"].astype(str), n_boot, seed)
            b = summary(other[metric], other["id"] + "@" + other["version"].astype(str), n_boot, seed)
            half = (a["ci_high"] - a["ci_low"]) / 2
            rows.append(
                {
                    "condition": condition,
                    "method": method,
                    "metric": metric,
                    "default": a["mean"],
                    "default_ci_low": a["ci_low"],
                    "default_ci_high": a["ci_high"],
                    "doubled": b["mean"],
                    "delta": b["mean"] - a["mean"],
                    "ci_half_width": half,
                    "converged": bool(abs(b["mean"] - a["mean"]) <= half),
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--default-run", help="a finished embedded-default run folder to reuse")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "convergence.json"))
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    methods = [m for m in expand_methods(["lmac", "lmac_ft", "lmac_td"], config["lmac_td"]["alphas"]) if is_learned(m)]
    seed = config["seeds"][0]

    def targets(side: str, only: list[str] | None = None) -> list[str]:
        return [f"results/{RUNS[side]}/evaluation/{c}/{m}/seed{seed}.csv" for c in CONDITIONS for m in only or methods]

    def evaluated(side: str, method: str) -> str:
        """The doubled side's run folder that evaluated ``method``."""
        return RUNS["ft_doubled"] if side == "doubled" and method in STARTS_FROM else RUNS[side]

    chained = [m for m in methods if m not in STARTS_FROM]

    restrict = {"evaluation": {"methods": ["lmac", "lmac_ft", "lmac_td"], "conditions": list(CONDITIONS)}}
    with tempfile.TemporaryDirectory(prefix="lmac-convergence-") as tmp:
        base = Path(args.default_run) if args.default_run else Path(tmp, "default")
        walls = {}
        if not args.default_run:
            base.mkdir()
            shutil.copytree(ROOT / "config", base / "config")
            walls["default"] = run(base, {**restrict, "run": RUNS["default"]}, targets("default"), args.cores)
        longer = Path(tmp, "doubled")
        longer.mkdir()
        shutil.copytree(ROOT / "config", longer / "config")
        shutil.copytree(base / "resources", longer / "resources")
        for name in SHARED_RESULTS:
            if (base / "results" / RUNS["default"] / name).exists():
                shutil.copytree(base / "results" / RUNS["default"] / name, longer / "results" / RUNS["doubled"] / name)
        walls["doubled"] = run(
            longer, {**restrict, **doubled(config), "run": RUNS["doubled"]}, targets("doubled", chained), args.cores
        )
        started = [m for m in methods if m in STARTS_FROM]
        if started:
            for name in [*SHARED_RESULTS, *(f"explainers/{STARTS_FROM[m]}" for m in started)]:
                if (base / "results" / RUNS["default"] / name).exists():
                    shutil.copytree(
                        base / "results" / RUNS["default"] / name, longer / "results" / RUNS["ft_doubled"] / name
                    )
            overlay = {
                "evaluation": {**restrict["evaluation"], "methods": started},
                **{m: doubled(config)[m] for m in started},
                "run": RUNS["ft_doubled"],
            }
            walls["ft_doubled"] = run(longer, overlay, targets("ft_doubled", started), args.cores)
        frames = [
            read_per_sample([str(base / t) for t in targets("default")]),
            read_per_sample(
                [
                    str(longer / f"results/{evaluated('doubled', m)}/evaluation/{c}/{m}/seed{seed}.csv")
                    for c in CONDITIONS
                    for m in methods
                ]
            ),
        ]
        rows = compare(*frames, n_boot=config["report"]["n_boot"], seed=config["seed"])
        resynthesis = {}
        sides = (("default", base), ("doubled", longer))
        for name, d in sides:
            entry = {
                m: float(history(d, RUNS[name], m, seed)["valid_sisnr"].iloc[-1])
                for m in methods
                if m.startswith("lmac_td")
            }
            if config["lmac_td"].get("encoder_decoder", {}).get("pretrain"):
                entry["encoder_decoder"] = float(
                    history(d, RUNS[name], "lmac_td_encoder_decoder", None)["valid_sisnr"].max()
                )
            resynthesis[name] = entry
        epochs = {name: {m: len(history(d, evaluated(name, m), m, seed)) for m in methods} for name, d in sides}
        # the doubled run's trajectories (validation loss, mask mean, Fid-In per epoch): where each one settles
        keep = ["epoch", "lr", "valid_loss", "valid_mask_mean", "valid_fid_in"]
        curves = {
            m: history(longer, evaluated("doubled", m), m, seed).reindex(columns=keep).round(4).to_dict(orient="list")
            for m in methods
        }
    report = {
        "date": date.today().isoformat(),
        "cores": args.cores,
        "conditions": list(CONDITIONS),
        "starts_from_default": STARTS_FROM,
        "wall_seconds": {k: round(v, 1) for k, v in walls.items()},
        "epochs": epochs,
        "resynthesis_sisnr_db": resynthesis,
        "doubled_histories": curves,
        "comparisons": rows,
        "all_converged": all(r["converged"] for r in rows),
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    failing = [r for r in rows if not r["converged"]]
    print(f"{len(rows) - len(failing)}/{len(rows)} comparisons within the default run's CI half-width")
    for r in failing:
        print(
            f"  moved: {r['method']} {r['condition']} {r['metric']}: {r['default']:.3f} -> {r['doubled']:.3f} "
            f"(half-width {r['ci_half_width']:.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
