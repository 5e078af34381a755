# Provenance: one run-level record after the tables (every training and evaluation job also leaves
# its own record beside its first output, written by lmac.workflow_step.run_step).


rule provenance:
    input:
        tables=results("tables/metrics.json"),
    output:
        results("provenance.json"),
    log:
        logs("report/provenance.log"),
    localrule: True
    conda:
        "../envs/lmac.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # the whole configuration (what `--configfile` and the schema defaults made of it); no
        # single lookup() returns the root, and a config change should rewrite this record
        config=config,
    script:
        "../scripts/provenance.py"
