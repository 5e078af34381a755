# Reporting: method × metric tables per condition (Markdown, CSV, LaTeX, JSON).


rule metrics_table:
    input:
        per_sample=per_method_condition(results("evaluation/{condition}/{method}/seed{seed}.csv")),
        classifier_metrics=results("classifier/metrics.json"),
    output:
        csv=results("tables/metrics.csv"),
        md=results("tables/metrics.md"),
        tex=results("tables/metrics.tex"),
        json=results("tables/metrics.json"),
    log:
        logs("report/metrics_table.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
    script:
        "../scripts/metrics_table.py"


# the example figures and every other figure: workflow/rules/figures.smk


# Paper vs. ours: every published number (config/published.yaml, or report.published) next to our mean [CI],
# with Δ and the known reference defects that explain a difference.
rule paper_tables:
    input:
        metrics=results("tables/metrics.csv"),
        classifier_metrics=results("classifier/metrics.json"),
        published=published_numbers,
    output:
        md=results("tables/paper_vs_ours.md"),
        tex=results("tables/paper_vs_ours.tex"),
        csv=results("tables/paper_vs_ours.csv"),
    log:
        logs("report/paper_tables.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        dataset=lookup(within=config, dpath="dataset/name"),
    script:
        "../scripts/paper_tables.py"
