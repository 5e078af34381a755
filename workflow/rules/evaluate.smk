# Evaluation: every method through the same Explainer interface. evaluation.group: condition (default)
# runs one job per condition × seed that evaluates every method in one pass over the data (loading,
# interferer synthesis and the reference passes shared); method runs one job per method × condition
# × seed, so a cluster spreads them. Either way each method gets the same files.


rule evaluate:
    input:
        unpack(evaluation_inputs_of(evaluated_methods)),
    output:
        per_sample=evaluation_outputs(results("evaluation/{condition}/{method}/seed{seed}.csv")),
        explanations=evaluation_outputs(results("explanations/{condition}/{method}/seed{seed}.npz")),
    log:
        logs(f"evaluate/{EVAL_JOB}.log"),
    benchmark:
        benchmarks(f"evaluate/{EVAL_JOB}.tsv")
    conda:
        "../envs/lmac.yaml"
    threads: gpu_job_threads
    resources:
        gpu=gpu_jobs,
        # a job's explainers run one after another: only their kept masks and examples add up
        mem_mb=lambda wc, attempt: (8000 + 500 * (EVAL_JOB_METHODS - 1)) * attempt,
        runtime=lambda wc, attempt: 120 * EVAL_JOB_METHODS * attempt,
    params:
        config=evaluation_config,
        methods=evaluated_methods,
        device=lookup(within=config, dpath="device"),
    script:
        "../scripts/evaluate.py"


# a seed only the claims use evaluates only the methods they compare (evaluation.group: condition)
if EVAL_GROUPED and CLAIMS_ONLY_SEEDS:

    ruleorder: evaluate_claims_seed > evaluate

    use rule evaluate as evaluate_claims_seed with:
        input:
            unpack(evaluation_inputs_of(claims_seed_methods)),
        output:
            per_sample=evaluation_outputs(results("evaluation/{condition}/{method}/seed{seed}.csv"), CLAIMS_METHODS),
            explanations=evaluation_outputs(results("explanations/{condition}/{method}/seed{seed}.npz"), CLAIMS_METHODS),
        wildcard_constraints:
            seed="|".join(str(s) for s in CLAIMS_ONLY_SEEDS),
        params:
            config=evaluation_config,
            methods=claims_seed_methods,
            device=lookup(within=config, dpath="device"),
