# Classifier: fine-tune (or train) CNN14 on the prepared dataset; the best epoch is exported.


rule train_classifier:
    input:
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
    output:
        model="results/classifier/model.pt",
        metrics="results/classifier/metrics.json",
        history="results/classifier/history.csv",
    params:
        work="results/work/classifier",
        cfg=lookup(within=config, dpath="classifier"),
        frontend=lookup(within=config, dpath="frontend"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
    log:
        "logs/classifier/train_classifier.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/classifier/train_classifier.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 240 * attempt,
    script:
        "../scripts/train_classifier.py"
