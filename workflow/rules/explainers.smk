# Explainers: train each learned explainer's decoder on the frozen classifier.


# WHAM! is an input of the L-MAC trainings only when they mix noise and its source is WHAM!
# (a dict from the config, not an input function: functions belong in common.smk, says the linter).
WHAM = {"wham": "resources/wham"} if config["noise"]["source"] == "wham" else {}
LMAC_WHAM = WHAM if config["lmac"]["noise"] else {}
LMAC_TD_WHAM = WHAM if config.get("lmac_td", {}).get("noise") else {}


rule train_lmac:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
    output:
        model="results/explainers/lmac/model.pt",
        history="results/explainers/lmac/history.csv",
    params:
        work="results/work/explainers/lmac",
        cfg=lookup(within=config, dpath="lmac"),
        noise=lookup(within=config, dpath="noise"),
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


# L-MAC FT: guided fine-tuning starts from the trained L-MAC decoder (methods §3.4).
rule train_lmac_ft:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier="results/classifier/model.pt",
        init="results/explainers/lmac/model.pt",
    output:
        model="results/explainers/lmac_ft/model.pt",
        history="results/explainers/lmac_ft/history.csv",
    params:
        work="results/work/explainers/lmac_ft",
        cfg=lookup(within=config, dpath="lmac"),
        ft=lookup(within=config, dpath="lmac_ft"),
        noise=lookup(within=config, dpath="noise"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/train_lmac_ft.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/train_lmac_ft.tsv"
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
        model="results/explainers/lmac_td_a{alpha}/model.pt",
        history="results/explainers/lmac_td_a{alpha}/history.csv",
    params:
        work="results/work/explainers/lmac_td_a{alpha}",
        cfg=lookup(within=config, dpath="lmac_td"),
        noise=lookup(within=config, dpath="noise"),
        sample_rate=lookup(within=config, dpath="dataset/sample_rate"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
    log:
        "logs/explainers/train_lmac_td_a{alpha}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/explainers/train_lmac_td_a{alpha}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 24000 * attempt,
        runtime=lambda wc, attempt: 1440 * attempt,
    script:
        "../scripts/train_lmac_td.py"
