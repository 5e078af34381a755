# Checks beyond the papers (issue #7): listenability, round-trip faithfulness and masking-operator robustness
# tables and figures (from the evaluation's extra per-clip columns, evaluation.extras), the papers' claims on
# claims.seeds, and the sanity checks. `snakemake checks` makes them all; `snakemake claims_seeds` (`make claims`)
# only those claims.


rule listenability_table:
    input:
        per_sample=per_method_condition(results("evaluation/{condition}/{method}/seed{seed}.csv")),
    output:
        csv=results("tables/listenability.csv"),
        md=results("tables/listenability.md"),
        tex=results("tables/listenability.tex"),
    log:
        logs("checks/listenability_table.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        kind="listenability",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
    script:
        "../scripts/beyond_table.py"


use rule listenability_table as roundtrip_table with:
    output:
        csv=results("tables/roundtrip.csv"),
        md=results("tables/roundtrip.md"),
        tex=results("tables/roundtrip.tex"),
    log:
        logs("checks/roundtrip_table.log"),
    params:
        kind="roundtrip",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),


# the operator table and the rank stability of the methods between operators (its own CSV)
use rule listenability_table as robustness_table with:
    output:
        csv=results("tables/robustness.csv"),
        ranks=results("tables/robustness_ranks.csv"),
        md=results("tables/robustness.md"),
        tex=results("tables/robustness.tex"),
    log:
        logs("checks/robustness_table.log"),
    params:
        kind="robustness",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),


rule listenability_figure:
    input:
        table=results("tables/listenability.csv"),
    output:
        png=report(
            results("figures/listenability.png"),
            caption="../report/listenability.rst",
            category="Beyond the papers",
            subcategory="Listenability",
            labels={"figure": "listenability"},
        ),
        pdf=results("figures/listenability.pdf"),
    log:
        logs("checks/listenability_figure.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kind="listenability",
    script:
        "../scripts/beyond_figure.py"


use rule listenability_figure as roundtrip_figure with:
    input:
        table=results("tables/roundtrip.csv"),
    output:
        png=report(
            results("figures/roundtrip.png"),
            caption="../report/roundtrip.rst",
            category="Beyond the papers",
            subcategory="Round-trip faithfulness",
            labels={"figure": "round trip"},
        ),
        pdf=results("figures/roundtrip.pdf"),
    log:
        logs("checks/roundtrip_figure.log"),
    params:
        kind="roundtrip",


use rule listenability_figure as robustness_figure with:
    input:
        table=results("tables/robustness_ranks.csv"),
    output:
        png=report(
            results("figures/robustness.png"),
            caption="../report/robustness.rst",
            category="Beyond the papers",
            subcategory="Masking-operator robustness",
            labels={"figure": "rank stability"},
        ),
        pdf=results("figures/robustness.pdf"),
    log:
        logs("checks/robustness_figure.log"),
    params:
        kind="robustness",


# the papers' qualitative claims (config/claims.yaml), each PASS / FAIL / NOT RUN: on the run's `seeds` (part of
# `all`; the randomisation claims need the sanity checks and are NOT RUN here, saying so) and, for
# `make claims` / `snakemake claims_seeds`, on claims.seeds with the sanity checks (results/<run>/tables/claims_seeds.*)
rule claims:
    input:
        per_sample=run_claims_evaluations,
        claims=CLAIMS_FILE,
    output:
        csv=results("tables/claims.csv"),
        md=results("tables/claims.md"),
        tex=results("tables/claims.tex"),
        html=report(
            results("tables/claims.html"),
            caption="../report/claims.rst",
            category="Beyond the papers",
            subcategory="Claims",
            labels={"table": "claims", "kind": "table"},
        ),
    log:
        logs("checks/claims.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        conditions=CLAIMS_CONDITIONS,
        seeds=SEEDS,
        missing="the randomisation claims read the sanity checks, which `make reproduce` does not run: "
        f"`make claims` checks them ({results('tables/claims_seeds.*')})",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
    script:
        "../scripts/claims.py"


# every comparison's CI against the line its rule must clear, one panel per claim
rule claims_figure:
    input:
        table=results("tables/{table}.csv"),
    output:
        png=report(
            results("figures/{table}.png"),
            caption="../report/claims_figure.rst",
            category="Beyond the papers",
            subcategory="Claims",
            labels={"table": "{table}", "kind": "figure"},
        ),
        pdf=results("figures/{table}.pdf"),
    log:
        logs("checks/{table}_figure.log"),
    wildcard_constraints:
        table="claims|claims_seeds",
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/claims_figure.py"


use rule claims as claims_seeds with:
    input:
        per_sample=claims_evaluations,
        cascading=cascading_summary,
        claims=CLAIMS_FILE,
    output:
        csv=results("tables/claims_seeds.csv"),
        md=results("tables/claims_seeds.md"),
        tex=results("tables/claims_seeds.tex"),
        html=report(
            results("tables/claims_seeds.html"),
            caption="../report/claims.rst",
            category="Beyond the papers",
            subcategory="Claims",
            labels={"table": "claims_seeds", "kind": "table"},
        ),
    log:
        logs("checks/claims_seeds.log"),
    params:
        conditions=CLAIMS_CONDITIONS,
        seeds=lookup(within=config, dpath="claims/seeds"),
        missing="claims.randomisation is false: the sanity checks were not run for the claims",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),


rule checks:
    input:
        sanity_outputs,
        rules.listenability_table.output,
        rules.roundtrip_table.output,
        rules.robustness_table.output,
        rules.listenability_figure.output,
        rules.roundtrip_figure.output,
        rules.robustness_figure.output,
        rules.claims_seeds.output,
        results("figures/claims_seeds.png"),
    localrule: True
