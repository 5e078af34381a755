# Data: the embedded synthetic dataset or the real ESC-50, then one preparation step for both.


rule synthesize_dataset:
    output:
        directory(SYNTHETIC),
    log:
        logs("data/synthesize_dataset.log"),
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg=lookup(within=config, dpath="dataset/synthetic"),
        sample_rate=lookup(within=config, dpath="dataset/sample_rate"),
        clip_seconds=lookup(within=config, dpath="dataset/clip_seconds"),
        frontend=lookup(within=config, dpath="frontend"),
        seed=lookup(within=config, dpath="seed"),
    script:
        "../scripts/synthesize_dataset.py"


rule download_esc50:
    output:
        directory("resources/esc50"),
        archive="resources/archives/esc50.zip",
    log:
        logs("data/download_esc50.log"),
    retries: 2
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        url=lookup(within=config, dpath="dataset/esc50/url"),
        sha256=lookup(within=config, dpath="dataset/esc50/sha256"),
    script:
        "../scripts/download_archive.py"


rule prepare_dataset:
    input:
        raw_dataset,
    output:
        audio=results("data/{dataset}/audio.npy"),
        manifest=results("data/{dataset}/manifest.csv"),
        classes=results("data/{dataset}/classes.txt"),
        info=results("data/{dataset}/prepare.json"),
    log:
        logs("data/prepare_{dataset}.log"),
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dataset=lookup(within=config, dpath="dataset"),
    script:
        "../scripts/prepare_dataset.py"


# WHAM! noise (noise.source: wham) and LJSpeech (evaluation.speech: ljspeech): downloaded only
# when a job needs them. Both go through the generic archive script; the marker names the file
# whose folder becomes the output (wham_noise/ holds tr/, cv/, tt/ and metadata/).
rule download_wham:
    output:
        directory("resources/wham"),
        archive="resources/archives/wham_noise.zip",
    log:
        logs("data/download_wham.log"),
    retries: 2
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        url=lookup(within=config, dpath="dataset/wham/url"),
        sha256=lookup(within=config, dpath="dataset/wham/sha256"),
        marker="metadata/noise_meta_tr.csv",
    script:
        "../scripts/download_archive.py"


rule download_ljspeech:
    output:
        directory("resources/ljspeech"),
        archive="resources/archives/LJSpeech-1.1.tar.bz2",
    log:
        logs("data/download_ljspeech.log"),
    retries: 2
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        url=lookup(within=config, dpath="dataset/ljspeech/url"),
        sha256=lookup(within=config, dpath="dataset/ljspeech/sha256"),
        marker="metadata.csv",
    script:
        "../scripts/download_archive.py"
