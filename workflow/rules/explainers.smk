# Explainers: train each learned explainer's decoder on the frozen classifier.


# WHAM! is an input of the L-MAC trainings only when they mix noise and its source is WHAM!
LMAC_WHAM = WHAM if config["lmac"]["noise"] else {}
LMAC_TD_WHAM = WHAM if config.get("lmac_td", {}).get("noise") else {}
L2I_WHAM = WHAM if config.get("l2i", {}).get("noise") else {}
# the lmac_td keys the pre-training reads: only their changes rerun it (not the masker's loss, lr or α)
LMAC_TD_ED_CFG = {k: config.get("lmac_td", {}).get(k) for k in ("preset", "scale", "encoder_decoder", "noise")}
# LMAC-TD starts from the pre-trained encoder/decoder when asked to and no other pair is given
LMAC_TD_ED = (
    {"encoder_decoder": results("explainers/lmac_td_encoder_decoder/model.pt")}
    if config.get("lmac_td", {}).get("encoder_decoder", {}).get("pretrain")
    and not config["lmac_td"].get("pretrained_encoder_decoder")
    else {}
)


rule train_lmac:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=results("classifier/model.pt"),
    output:
        model=results("explainers/lmac/seed{seed}/model.pt"),
        history=results("explainers/lmac/seed{seed}/history.csv"),
    log:
        logs("explainers/lmac/seed{seed}.log"),
    benchmark:
        benchmarks("explainers/lmac/seed{seed}.tsv")
    priority: PRIORITY["training"]
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        # peak measured at the paper's size and batch on a CPU (benchmarks/gpu_budget.json): 7.0 GB
        mem_mb=lambda wc, attempt: 10000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    params:
        work=results("work/explainers/lmac/seed{seed}"),
        cfg=lookup(within=config, dpath="lmac"),
        noise=lookup(within=config, dpath="noise"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/train_lmac.py"


# L-MAC FT: guided fine-tuning starts from the trained L-MAC decoder (docs/reproducibility_notes.md#l-mac-ft).
rule train_lmac_ft:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=results("classifier/model.pt"),
        init=results("explainers/lmac/seed{seed}/model.pt"),
    output:
        model=results("explainers/lmac_ft/seed{seed}/model.pt"),
        history=results("explainers/lmac_ft/seed{seed}/history.csv"),
    log:
        logs("explainers/lmac_ft/seed{seed}.log"),
    benchmark:
        benchmarks("explainers/lmac_ft/seed{seed}.tsv")
    priority: PRIORITY["training"]
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        # peak measured at the paper's size and batch on a CPU (benchmarks/gpu_budget.json): 7.0 GB
        mem_mb=lambda wc, attempt: 10000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    params:
        work=results("work/explainers/lmac_ft/seed{seed}"),
        cfg=lookup(within=config, dpath="lmac"),
        ft=lookup(within=config, dpath="lmac_ft"),
        noise=lookup(within=config, dpath="noise"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/train_lmac_ft.py"


# LMAC-TD's encoder E and decoder D pre-trained as an autoencoder of the training audio
# (lmac_td.encoder_decoder): one pair for every α and seed, since it does not read the classifier.
rule pretrain_lmac_td_encoder_decoder:
    input:
        **LMAC_TD_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
    output:
        model=results("explainers/lmac_td_encoder_decoder/model.pt"),
        history=results("explainers/lmac_td_encoder_decoder/history.csv"),
    log:
        logs("explainers/lmac_td_encoder_decoder.log"),
    benchmark:
        benchmarks("explainers/lmac_td_encoder_decoder.tsv")
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        work=results("work/explainers/lmac_td_encoder_decoder"),
        cfg=LMAC_TD_ED_CFG,
        noise=lookup(within=config, dpath="noise"),
        sample_rate=lookup(within=config, dpath="dataset/sample_rate"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/pretrain_lmac_td_ed.py"


# LMAC-TD: one time-domain explainer per mixing weight α in lmac_td.alphas (docs/reproducibility_notes.md#lmac-td).
rule train_lmac_td:
    input:
        **LMAC_TD_WHAM,
        **LMAC_TD_ED,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=results("classifier/model.pt"),
    output:
        model=results("explainers/lmac_td_a{alpha}/seed{seed}/model.pt"),
        history=results("explainers/lmac_td_a{alpha}/seed{seed}/history.csv"),
    log:
        logs("explainers/lmac_td_a{alpha}/seed{seed}.log"),
    benchmark:
        benchmarks("explainers/lmac_td_a{alpha}/seed{seed}.tsv")
    priority: PRIORITY["lmac_td_training"]
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        mem_mb=lambda wc, attempt: 24000 * attempt,
        runtime=lambda wc, attempt: 1440 * attempt,
    params:
        work=results("work/explainers/lmac_td_a{alpha}/seed{seed}"),
        cfg=lookup(within=config, dpath="lmac_td"),
        noise=lookup(within=config, dpath="noise"),
        sample_rate=lookup(within=config, dpath="dataset/sample_rate"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/train_lmac_td.py"


# L2I's NMF dictionary: learned once on the training split, shared by every seed (docs/reproducibility_notes.md#l2i).
rule train_nmf:
    input:
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
    output:
        model=results("explainers/l2i_nmf/model.pt"),
        history=results("explainers/l2i_nmf/history.csv"),
    log:
        logs("explainers/l2i_nmf.log"),
    benchmark:
        benchmarks("explainers/l2i_nmf.tsv")
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        work=results("work/explainers/l2i_nmf"),
        cfg=lookup(within=config, dpath="nmf"),
        frontend=lookup(within=config, dpath="frontend"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
    script:
        "../scripts/train_nmf.py"


# L2I: ψ and θ trained on the frozen classifier and the NMF dictionary, one per seed.
rule train_l2i:
    input:
        **L2I_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=results("classifier/model.pt"),
        dictionary=results("explainers/l2i_nmf/model.pt"),
    output:
        model=results("explainers/l2i/seed{seed}/model.pt"),
        history=results("explainers/l2i/seed{seed}/history.csv"),
    log:
        logs("explainers/l2i/seed{seed}.log"),
    benchmark:
        benchmarks("explainers/l2i/seed{seed}.tsv")
    priority: PRIORITY["training"]
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        # peak measured at the paper's size and batch on a CPU (benchmarks/gpu_budget.json): 5.8 GB
        mem_mb=lambda wc, attempt: 10000 * attempt,
        runtime=lambda wc, attempt: 600 * attempt,
    params:
        work=results("work/explainers/l2i/seed{seed}"),
        cfg=lookup(within=config, dpath="l2i"),
        noise=lookup(within=config, dpath="noise"),
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/train_l2i.py"
