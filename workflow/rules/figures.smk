# Figures and the report's view of the tables: light jobs on finished results (no training).
# `snakemake figures` makes every one; `snakemake --report results/<run>/report.html` collects them.


rule metrics_table_html:
    input:
        table=results("tables/metrics.csv"),
        classifier_metrics=results("classifier/metrics.json"),
    output:
        html=report(
            results("tables/metrics.html"),
            caption="../report/metrics_table.rst",
            category="Metrics",
            subcategory="Tables",
            labels={"result": "metrics table"},
        ),
    log:
        logs("report/metrics_table_html.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/metrics_html.py"


rule faithfulness_bars:
    input:
        table=results("tables/metrics.csv"),
    output:
        png=report(
            results("figures/metrics_faithfulness.png"),
            caption="../report/faithfulness_bars.rst",
            category="Metrics",
            subcategory="Faithfulness",
            labels={"figure": "faithfulness bars"},
        ),
        pdf=results("figures/metrics_faithfulness.pdf"),
    log:
        logs("report/faithfulness_bars.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kind="faithfulness",
    script:
        "../scripts/metric_bars.py"


rule localisation_bars:
    input:
        table=results("tables/metrics.csv"),
    output:
        png=report(
            results("figures/metrics_localisation.png"),
            caption="../report/localisation_bars.rst",
            category="Metrics",
            subcategory="Localisation",
            labels={"figure": "localisation bars"},
        ),
        pdf=results("figures/metrics_localisation.pdf"),
    log:
        logs("report/localisation_bars.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kind="localisation",
    script:
        "../scripts/metric_bars.py"


rule alpha_ablation:
    input:
        table=results("tables/metrics.csv"),
    output:
        png=report(
            results("figures/alpha_ablation.png"),
            caption="../report/alpha_ablation.rst",
            category="Metrics",
            subcategory="LMAC-TD α ablation",
            labels={"figure": "α ablation"},
        ),
        pdf=results("figures/alpha_ablation.pdf"),
    log:
        logs("report/alpha_ablation.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/alpha_ablation.py"


rule training_curves:
    input:
        histories=training_histories,
    output:
        png=report(
            results("figures/training/{model}.png"),
            caption="../report/training_curves.rst",
            category="Training",
            subcategory="Per model",
            labels={"model": "{model}"},
        ),
        pdf=results("figures/training/{model}.pdf"),
    log:
        logs("report/training_curves/{model}.log"),
    wildcard_constraints:
        model="|".join(TRAINED_MODELS),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=training_runs,
    script:
        "../scripts/training_curves.py"


# one row per method for one test clip: input, mask, masked-in and the listenable explanation
rule example_figure:
    input:
        explanations=example_explanations,
    output:
        png=report(
            results("figures/examples/{condition}/example{example}.png"),
            caption="../report/examples.rst",
            category="Examples",
            subcategory="{condition}",
            labels={"condition": "{condition}", "example": "{example}"},
        ),
        pdf=results("figures/examples/{condition}/example{example}.pdf"),
    log:
        logs("report/example_figure/{condition}/example{example}.log"),
    wildcard_constraints:
        example=r"[0-9]+",
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        methods=METHODS,
        frontend=lookup(within=config, dpath="frontend"),
    script:
        "../scripts/example_figure.py"


# every figure and table from finished results; the target of `make figures`
rule figures:
    input:
        figure_targets(),
        rules.paper_tables.output,
    localrule: True
