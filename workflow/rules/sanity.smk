# Sanity checks of the explanations (Adebayo et al. 2018): cascading model randomisation with the
# trained decoder kept fixed and retrained, data randomisation (a classifier trained on permuted labels),
# random logit. `snakemake sanity` makes the tables and figures; the decoders are retrained by the
# explainers' own rules (`use rule ... with:`), only with another classifier and sanity.retrain_epochs.


wildcard_constraints:
    variant=r"step[0-9]+|permuted",
    step=r"[0-9]+",


# the configs of the retrainings and of the permuted-label classifier: the main ones, shortened
SANITY_LMAC = {**config["lmac"], "epochs": SANITY["retrain_epochs"]}
SANITY_LMAC_FT = {**config.get("lmac_ft", {}), "epochs": SANITY["retrain_epochs"]}
SANITY_LMAC_TD = {**config.get("lmac_td", {}), "epochs": SANITY["retrain_epochs"]}
# select last: validation accuracy is chance by design, the check wants the memorising model
SANITY_PERMUTED = {
    **config["classifier"],
    "permute_labels": True,
    "epochs": SANITY["permuted_epochs"],
    "select": "last",
}


rule sanity:
    input:
        SANITY_TARGETS,
    localrule: True


rule sanity_randomised_classifier:
    input:
        classifier=results("classifier/model.pt"),
    output:
        model=results("sanity/classifiers/step{step}/seed{seed}/model.pt"),
    log:
        logs("sanity/classifiers/step{step}/seed{seed}.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=10,
    params:
        seed=run_seed,
    script:
        "../scripts/sanity_randomise.py"


use rule train_classifier as sanity_permuted_classifier with:
    output:
        model=results("sanity/classifiers/permuted/model.pt"),
        metrics=results("sanity/classifiers/permuted/metrics.json"),
        history=results("sanity/classifiers/permuted/history.csv"),
    log:
        logs("sanity/classifiers/permuted.log"),
    benchmark:
        benchmarks("sanity/classifiers/permuted.tsv")
    # unlike the main classifier it trains beside other jobs: one thread on a CPU
    threads: gpu_job_threads
    params:
        work=results("work/sanity/classifiers/permuted"),
        cfg=SANITY_PERMUTED,


use rule train_lmac as sanity_retrain_lmac with:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=sanity_classifier,
    output:
        model=results("sanity/retrained/{variant}/lmac/seed{seed}/model.pt"),
        history=results("sanity/retrained/{variant}/lmac/seed{seed}/history.csv"),
    log:
        logs("sanity/retrained/{variant}/lmac/seed{seed}.log"),
    benchmark:
        benchmarks("sanity/retrained/{variant}/lmac/seed{seed}.tsv")
    params:
        work=results("work/sanity/retrained/{variant}/lmac/seed{seed}"),
        cfg=SANITY_LMAC,


use rule train_lmac_ft as sanity_retrain_lmac_ft with:
    input:
        **LMAC_WHAM,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=sanity_classifier,
        init=results("sanity/retrained/{variant}/lmac/seed{seed}/model.pt"),
    output:
        model=results("sanity/retrained/{variant}/lmac_ft/seed{seed}/model.pt"),
        history=results("sanity/retrained/{variant}/lmac_ft/seed{seed}/history.csv"),
    log:
        logs("sanity/retrained/{variant}/lmac_ft/seed{seed}.log"),
    benchmark:
        benchmarks("sanity/retrained/{variant}/lmac_ft/seed{seed}.tsv")
    params:
        work=results("work/sanity/retrained/{variant}/lmac_ft/seed{seed}"),
        cfg=SANITY_LMAC,
        ft=SANITY_LMAC_FT,


use rule train_lmac_td as sanity_retrain_lmac_td with:
    input:
        **LMAC_TD_WHAM,
        **LMAC_TD_ED,
        audio=prepared("audio.npy"),
        manifest=prepared("manifest.csv"),
        classifier=sanity_classifier,
    output:
        model=results("sanity/retrained/{variant}/lmac_td_a{alpha}/seed{seed}/model.pt"),
        history=results("sanity/retrained/{variant}/lmac_td_a{alpha}/seed{seed}/history.csv"),
    log:
        logs("sanity/retrained/{variant}/lmac_td_a{alpha}/seed{seed}.log"),
    benchmark:
        benchmarks("sanity/retrained/{variant}/lmac_td_a{alpha}/seed{seed}.tsv")
    params:
        work=results("work/sanity/retrained/{variant}/lmac_td_a{alpha}/seed{seed}"),
        cfg=SANITY_LMAC_TD,


# one job per method and seed: the three checks share the method's reference explanations
rule sanity_checks:
    input:
        unpack(sanity_inputs),
    output:
        cascading=results("sanity/cascading/{method}/seed{seed}.csv"),
        random_logit=results("sanity/random_logit/{method}/seed{seed}.csv"),
        data_randomisation=results("sanity/data_randomisation/{method}/seed{seed}.csv"),
    log:
        logs("sanity/checks/{method}/seed{seed}.log"),
    benchmark:
        benchmarks("sanity/checks/{method}/seed{seed}.tsv")
    priority: PRIORITY["sanity_checks"]
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        config=sanity_config,
        retrain_steps=sanity_retrain_steps,
        seed=run_seed,
        device=lookup(within=config, dpath="device"),
    script:
        "../scripts/sanity_checks.py"


rule sanity_cascading_summary:
    input:
        per_clip=expand(results("sanity/cascading/{method}/seed{seed}.csv"), method=METHODS, seed=SEEDS),
    output:
        rows=results("sanity/cascading.csv"),
        csv=results("sanity/cascading_summary.csv"),
        md=results("sanity/cascading_summary.md"),
        tex=results("sanity/cascading_summary.tex"),
        html=report(
            results("sanity/cascading_summary.html"),
            caption="../report/sanity_cascading_table.rst",
            category="Sanity checks",
            labels={"check": "cascading randomisation", "kind": "table"},
        ),
        png=report(
            results("figures/sanity_cascading.png"),
            caption="../report/sanity_cascading.rst",
            category="Sanity checks",
            labels={"check": "cascading randomisation", "kind": "figure"},
        ),
        pdf=results("figures/sanity_cascading.pdf"),
    log:
        logs("sanity/cascading_summary.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        check="cascading",
        n_boot=lookup(within=config, dpath="report/n_boot"),
        seed=lookup(within=config, dpath="seed"),
    script:
        "../scripts/sanity_summary.py"


use rule sanity_cascading_summary as sanity_data_randomisation_summary with:
    input:
        per_clip=expand(results("sanity/data_randomisation/{method}/seed{seed}.csv"), method=METHODS, seed=SEEDS),
    output:
        rows=results("sanity/data_randomisation.csv"),
        csv=results("sanity/data_randomisation_summary.csv"),
        md=results("sanity/data_randomisation_summary.md"),
        tex=results("sanity/data_randomisation_summary.tex"),
        html=report(
            results("sanity/data_randomisation_summary.html"),
            caption="../report/sanity_data_randomisation_table.rst",
            category="Sanity checks",
            labels={"check": "data randomisation", "kind": "table"},
        ),
        png=report(
            results("figures/sanity_data_randomisation.png"),
            caption="../report/sanity_data_randomisation.rst",
            category="Sanity checks",
            labels={"check": "data randomisation", "kind": "figure"},
        ),
        pdf=results("figures/sanity_data_randomisation.pdf"),
    log:
        logs("sanity/data_randomisation_summary.log"),
    params:
        check="data_randomisation",


use rule sanity_cascading_summary as sanity_random_logit_summary with:
    input:
        per_clip=expand(results("sanity/random_logit/{method}/seed{seed}.csv"), method=METHODS, seed=SEEDS),
    output:
        rows=results("sanity/random_logit.csv"),
        csv=results("sanity/random_logit_summary.csv"),
        md=results("sanity/random_logit_summary.md"),
        tex=results("sanity/random_logit_summary.tex"),
        html=report(
            results("sanity/random_logit_summary.html"),
            caption="../report/sanity_random_logit_table.rst",
            category="Sanity checks",
            labels={"check": "random logit", "kind": "table"},
        ),
    log:
        logs("sanity/random_logit_summary.log"),
    params:
        check="random_logit",
