# Listening to the explanations (docs/listening.md): the report's listening page (part of all), the
# listening-test kit (`snakemake listening_test`) and the analysis of the ratings participants send back
# (`snakemake listening_analysis`, reading results/<run>/listening/ratings/*.csv).
rule listening_page:
    input:
        explanations=listening_explanations(CONDITIONS, METHODS),
        scores=expand(
            results("evaluation/{condition}/{method}/seed{seed}.csv"),
            condition=CONDITIONS,
            method=METHODS,
            seed=SEEDS[0],
        ),
    output:
        html=report(
            results("listening/page.html"),
            caption="../report/listening_page.rst",
            category="Listening",
            labels={"page": "listening page"},
        ),
        audio=directory(results("listening/page_audio")),
    log:
        logs("listening/page.log"),
    benchmark:
        benchmarks("listening/page.tsv")
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        methods=METHODS,
        conditions=CONDITIONS,
        clips=LISTENING.page_clips,
        seed=SEEDS[0],
    script:
        "../scripts/listening_page.py"


rule listening_test:
    input:
        explanations=listening_explanations(LISTENING.test_conditions, LISTENING.test_methods),
    output:
        html=results("listening/test/index.html"),
        trials=results("listening/test/trials.csv"),
        audio=directory(results("listening/test/audio")),
    log:
        logs("listening/test.log"),
    benchmark:
        benchmarks("listening/test.tsv")
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        methods=LISTENING.test_methods,
        conditions=LISTENING.test_conditions,
        settings=lookup(within=config, dpath="listening/test"),
        clips=LISTENING.test_clips,
    script:
        "../scripts/listening_test.py"


rule listening_analysis:
    input:
        ratings=listening_ratings,
    output:
        md=results("listening/analysis/listening.md"),
        html=results("listening/analysis/listening.html"),
        scores=results("listening/analysis/scores.csv"),
        comparisons=results("listening/analysis/comparisons.csv"),
        verdict=results("listening/analysis/verdict.csv"),
        screening=results("listening/analysis/screening.csv"),
        png=results("listening/analysis/scores.png"),
        pdf=results("listening/analysis/scores.pdf"),
    log:
        logs("listening/analysis.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
        claim=lookup(within=config, dpath="listening/claim"),
    script:
        "../scripts/listening_analysis.py"
