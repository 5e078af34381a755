# Explainers: train each learned explainer's decoder on the frozen classifier.


# WHAM! is an input of the L-MAC trainings only when they mix noise and its source is WHAM!
LMAC_WHAM = WHAM if config["lmac"]["noise"] else {}
LMAC_TD_WHAM = WHAM if config.get("lmac_td", {}).get("noise") else {}


rule train_lmac:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
    output:
        model="results/explainers/lmac/seed{seed}/model.pt",
        history="results/explainers/lmac/seed{seed}/history.csv",
    params:
        work="results/work/explainers/lmac/seed{seed}",
        cfg=lookup(within=config, dpath="lmac"),
        noise=lookup(within=config, dpath="noise"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/lmac/seed{seed}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/lmac/seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    script:
        "../scripts/train_lmac.py"


# L-MAC FT: guided fine-tuning starts from the trained L-MAC decoder (methods §3.4).
rule train_lmac_ft:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
        init="results/explainers/lmac/seed{seed}/model.pt",
    output:
        model="results/explainers/lmac_ft/seed{seed}/model.pt",
        history="results/explainers/lmac_ft/seed{seed}/history.csv",
    params:
        work="results/work/explainers/lmac_ft/seed{seed}",
        cfg=lookup(within=config, dpath="lmac"),
        ft=lookup(within=config, dpath="lmac_ft"),
        noise=lookup(within=config, dpath="noise"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/lmac_ft/seed{seed}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/lmac_ft/seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 16000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    script:
        "../scripts/train_lmac_ft.py"


# LMAC-TD: one time-domain explainer per mixing weight α in lmac_td.alphas (methods §4).
rule train_lmac_td:
    input:
        **LMAC_TD_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
    output:
        model="results/explainers/lmac_td_a{alpha}/seed{seed}/model.pt",
        history="results/explainers/lmac_td_a{alpha}/seed{seed}/history.csv",
    params:
        work="results/work/explainers/lmac_td_a{alpha}/seed{seed}",
        cfg=lookup(within=config, dpath="lmac_td"),
        noise=lookup(within=config, dpath="noise"),
        sample_rate=lookup(within=config, dpath="dataset/sample_rate"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/lmac_td_a{alpha}/seed{seed}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/lmac_td_a{alpha}/seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 24000 * attempt,
        runtime=lambda wc, attempt: 1440 * attempt,
    script:
        "../scripts/train_lmac_td.py"
