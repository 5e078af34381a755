# Classifier: fine-tune (or train) CNN14 on the prepared dataset; the best epoch is exported.


# A published checkpoint given by URL (config/paper.yaml: SpeechBrain's cnn14-esc50) is fetched here, on the
# login node, into resources/checkpoints/classifier/<file name>; train_classifier reads the local copy.
rule download_classifier:
    output:
        "resources/checkpoints/classifier/{checkpoint}",
    log:
        logs("classifier/download_{checkpoint}.log"),
    wildcard_constraints:
        checkpoint=CHECKPOINT_FILES,
    retries: 2
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        url=downloaded_checkpoint_setting("url"),
        sha256=downloaded_checkpoint_setting("sha256"),
    script:
        "../scripts/download_classifier.py"


rule train_classifier:
    input:
        unpack(classifier_init),
        **CLASSIFIER_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
    output:
        model=results("classifier/model.pt"),
        metrics=results("classifier/metrics.json"),
        history=results("classifier/history.csv"),
    log:
        logs("classifier/train_classifier.log"),
    benchmark:
        benchmarks("classifier/train_classifier.tsv")
    conda:
        "../envs/lmac.yaml"
    threads: classifier_threads
    resources:
        gpu=gpu_jobs,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 240 * attempt,
    params:
        work=results("work/classifier"),
        cfg=lookup(within=config, dpath="classifier"),
        frontend=lookup(within=config, dpath="frontend"),
        noise=lookup(within=config, dpath="noise"),
        seed=lookup(within=config, dpath="seed"),
        device=lookup(within=config, dpath="device"),
        compute=lookup(within=config, dpath="compute"),
    script:
        "../scripts/train_classifier.py"
