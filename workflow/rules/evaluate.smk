# Evaluation: every method through the same Explainer interface, one job per method × condition,
# so a cluster runs them in parallel.


rule evaluate:
    input:
        unpack(evaluation_inputs),
    output:
        per_sample="results/evaluation/{condition}/{method}/seed{seed}.csv",
        explanations="results/explanations/{condition}/{method}/seed{seed}.npz",
    params:
        config=evaluation_config,
        device=lookup(within=config, dpath="device"),
    log:
        "logs/evaluate/{condition}/{method}/seed{seed}.log",
    conda:
        "../envs/lmac.yaml"
    benchmark:
        "benchmarks/evaluate/{condition}/{method}/seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    script:
        "../scripts/evaluate.py"
