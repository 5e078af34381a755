# Evaluation: every method through the same Explainer interface, one job per method × split.


rule evaluate:
    input:
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
        explainer="results/explainers/{method}/model.pt",
    output:
        per_sample="results/evaluation/{method}/{split}.csv",
        explanations="results/explanations/{method}/{split}.npz",
    params:
        batch_size=lookup(within=config, dpath="evaluation/batch_size"),
        n_examples=lookup(within=config, dpath="report/n_examples"),
        device=lookup(within=config, dpath="device"),
    log:
        "logs/evaluate/{method}_{split}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/evaluate/{method}_{split}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    script:
        "../scripts/evaluate.py"
