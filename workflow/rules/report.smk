# Reporting: method × metric tables per condition (Markdown, CSV, LaTeX, JSON) and the example figure.


rule metrics_table:
    input:
        per_sample=per_method_condition("results/evaluation/{condition}/{method}/seed{seed}.csv"),
        classifier_metrics="results/classifier/metrics.json",
    output:
        csv="results/tables/metrics.csv",
        md="results/tables/metrics.md",
        tex="results/tables/metrics.tex",
        json="results/tables/metrics.json",
    params:
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
    log:
        "logs/report/metrics_table.log",
    conda:
        "../envs/lmac.yaml"
    localrule: True
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/metrics_table.py"


rule example_figure:
    input:
        explanations=expand("results/explanations/{condition}/{method}/seed{seed}.npz", method=METHODS,
                            condition=CONDITIONS[0], seed=SEEDS[0]),
    output:
        png="results/figures/examples.png",
    params:
        methods=METHODS,
        n_examples=lookup(within=config, dpath="report/n_examples"),
    log:
        "logs/report/example_figure.log",
    conda:
        "../envs/lmac.yaml"
    localrule: True
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/example_figure.py"
