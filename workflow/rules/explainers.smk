# Explainers: train each learned explainer's decoder on the frozen classifier.


rule train_lmac:
    input:
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
    output:
        model="results/explainers/lmac/model.pt",
        history="results/explainers/lmac/history.csv",
    params:
        work="results/work/explainers/lmac",
        cfg=lookup(within=config, dpath="lmac"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/train_lmac.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/train_lmac.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    script:
        "../scripts/train_lmac.py"
