# Config validation and target helpers (no rules here).
import glob
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from lmac.classifier import pretrained
from lmac.cluster import check_slurm_workflow
from lmac.config import synthetic_id
from lmac.config_rules import check_device, plan_workflow, runs_on_gpu as gpu_for
from lmac.errors import LmacError
from lmac.explainers.registry import is_learned
from lmac.listening.plan import listening_plan
from torch.cuda import device_count as cuda_count, is_available as cuda_available

# The config checked (schema, then the cross-key rules of lmac.config_rules) and completed with the schema's
# defaults before any job is scheduled, a bad one in one line naming the key; what the run computes, derived.
try:
    PLAN = plan_workflow(
        config,
        workflow.config_settings.config,
        workflow.overwrite_configfiles,
        repo_config=Path(workflow.basedir).parent / "config",
        esc50_meta="resources/esc50/meta/esc50.csv",
    )
except LmacError as err:
    raise WorkflowError(str(err)) from None

# Every output of a run lives in its own folders, named by the configuration (lmac.config.run_name):
# runs of different configurations in one working directory neither overwrite nor satisfy each other.
RUN = PLAN.run


def check_local_device():
    """`device` against this machine, when it will run the jobs (onstart: after the DAG, before any job).

    Only then is the executor known: a cluster's nodes have the GPUs its submit host may lack, and a
    dry run computes nothing.
    """
    if workflow.non_local_exec:
        return
    try:
        check_device(config["device"], cuda_count() if cuda_available() else 0)
    except LmacError as err:
        raise WorkflowError(str(err)) from None


def announce_smoke_mode():
    """Smoke mode's rewrite of the config, shown before the first job: nothing this run writes is a result."""
    if PLAN.smoke_changes:
        logger.warning(f"smoke mode (results/{RUN}/): " + "; ".join(PLAN.smoke_changes))


def check_cluster_requests():
    """With the SLURM executor, every job's CPUs, memory and GPUs against its partition's nodes (sinfo), before
    anything is submitted: SLURM would leave a job no node can take pending in silence (onstart, after the DAG)."""
    try:
        check_slurm_workflow(workflow, logger.warning)
    except LmacError as err:
        raise WorkflowError(str(err)) from None


def results(path):
    return f"results/{RUN}/{path}"


def logs(path):
    return f"logs/{RUN}/{path}"


def benchmarks(path):
    return f"benchmarks/{RUN}/{path}"


# generated from its settings alone: runs that agree on them share one copy
SYNTHETIC = f"resources/synthetic/{synthetic_id(config)}"

DATASET = config["dataset"]["name"]
EVAL = config["evaluation"]
# `lmac_td` in evaluation.methods stands for one LMAC-TD explainer per α
METHODS = PLAN.methods
CONDITIONS = EVAL["conditions"]
SEEDS = config["seeds"]
SPLIT = EVAL["split"]


wildcard_constraints:
    dataset="synthetic|esc50",
    method="|".join(METHODS),
    condition="|".join(CONDITIONS),
    split="train|valid|test",
    seed=r"[0-9]+",
    alpha=r"[0-9]+(\.[0-9]+)?",


def raw_dataset(wildcards):
    return SYNTHETIC if wildcards.dataset == "synthetic" else f"resources/{wildcards.dataset}"


def prepared(name):
    return results(f"data/{DATASET}/{name}")


def per_method_condition(pattern):
    return expand(pattern, method=METHODS, condition=CONDITIONS, seed=SEEDS)


def run_seed(wildcards):
    """The seed of an explainer training or an evaluation, from its path (any seed, not only `seeds`)."""
    return int(wildcards.seed)


# WHAM! is an input of a training rule only when it mixes noise and the noise source is WHAM!
# (dicts from the config, not input functions: functions belong in common.smk, says the linter).
WHAM = {"wham": "resources/wham"} if config["noise"]["source"] == "wham" else {}
CLASSIFIER_WHAM = WHAM if config["classifier"]["noise"]["enabled"] else {}


# evaluation.group: one evaluate job per condition × seed runs every method, or one per method
EVAL_GROUPED = EVAL["group"] == "condition"
EVAL_JOB = "{condition}/seed{seed}" if EVAL_GROUPED else "{condition}/{method}/seed{seed}"
EVAL_JOB_METHODS = len(METHODS) if EVAL_GROUPED else 1


def evaluation_outputs(pattern, methods=None):
    """An evaluate job's files of a per-method ``pattern``: one per method when the job runs every method."""
    if not EVAL_GROUPED:
        return pattern
    return expand(
        pattern.replace("{condition}", "{{condition}}").replace("{seed}", "{{seed}}"), method=methods or METHODS
    )


def evaluated_methods(wildcards):
    """The methods one evaluate job runs, in the order of its outputs."""
    return METHODS if EVAL_GROUPED else [wildcards.method]


def claims_seed_methods(wildcards):
    """The methods an evaluate_claims_seed job runs: those the claims compare."""
    return CLAIMS_METHODS


def evaluation_inputs_of(methods):
    """The input function of an evaluate rule whose jobs run ``methods(wildcards)``."""

    def evaluation_inputs(wildcards):
        return evaluation_job_inputs(wildcards, methods(wildcards))

    return evaluation_inputs


def evaluation_job_inputs(wildcards, methods):
    """The learned methods' trained checkpoints (in method order); interferer archives and ground truth as needed."""
    inputs = {
        "audio": prepared("audio.npy"),
        "manifest": prepared("manifest.csv"),
        "classifier": results("classifier/model.pt"),
    }
    learned = [m for m in methods if is_learned(m)]
    if learned:
        inputs["explainers"] = [results(f"explainers/{m}/seed{wildcards.seed}/model.pt") for m in learned]
    if wildcards.condition == "in_domain" and config["noise"]["source"] == "wham":
        inputs["wham"] = "resources/wham"
    if wildcards.condition == "speech" and EVAL["speech"] == "ljspeech":
        inputs["ljspeech"] = "resources/ljspeech"
    if DATASET == "synthetic":  # the embedded dataset knows where each clip's event is
        inputs["events"] = SYNTHETIC
    return inputs


def evaluation_config(wildcards):
    """The config keys EvalJob.from_config reads (as `lmac evaluate` does); only their changes rerun a job."""
    # evaluation.group decides which job runs a method, not what it computes
    return {
        "evaluation": {k: v for k, v in EVAL.items() if k != "group"},
        "noise": config["noise"],
        "seed": run_seed(wildcards),
        "dataset": {"sample_rate": config["dataset"]["sample_rate"]},
        "report": {"n_examples": config["report"]["n_examples"]},
        "baselines": {m: config.get("baselines", {}).get(m, {}) for m in evaluated_methods(wildcards)},
        "compute": config["compute"],
    }


# figures (workflow/rules/figures.smk)
# the models with a training history: the classifier and every learned explainer
TRAINED_MODELS = ["classifier", *(m for m in METHODS if is_learned(m))]


def training_histories(wildcards):
    """One history per run: the classifier's, or the explainer's for every seed in `seeds`."""
    if wildcards.model == "classifier":
        return [results("classifier/history.csv")]
    return expand(results("explainers/{model}/seed{seed}/history.csv"), model=wildcards.model, seed=SEEDS)


def training_runs(wildcards):
    """The legend labels of training_histories, in its order."""
    seeds = [config["seed"]] if wildcards.model == "classifier" else SEEDS
    return [f"seed {seed}" for seed in seeds]


def example_explanations(wildcards):
    """Every method's explanations on one condition (the figure's rows), from the first of `seeds`."""
    return expand(
        results("explanations/{condition}/{method}/seed{seed}.npz"),
        condition=wildcards.condition,
        method=METHODS,
        seed=SEEDS[0],
    )


def figure_targets():
    """Every table and figure (PNG + PDF); examples: `report.n_examples` clips on the first condition, one on the others;
    the claims on the run's seeds (their table and figure)."""
    tables = [
        *expand(results("tables/metrics.{ext}"), ext=["csv", "md", "tex", "json", "html"]),
        *expand(results("tables/claims.{ext}"), ext=["csv", "md", "tex", "html"]),
    ]
    figures = ["metrics_faithfulness", "metrics_localisation", "claims", *(f"training/{m}" for m in TRAINED_MODELS)]
    if "lmac_td" in EVAL["methods"] and config.get("lmac_td", {}).get("alphas"):
        figures.append("alpha_ablation")
    n_first = config["report"]["n_examples"]
    figures += [
        f"examples/{condition}/example{k}"
        for i, condition in enumerate(CONDITIONS)
        for k in range(1, (n_first if i == 0 else 1) + 1)
    ]
    return [*tables, *expand(results("figures/{name}.{ext}"), name=figures, ext=["png", "pdf"])]


# classifier checkpoints given by URL (classifier.init_checkpoint / init_head): {config key: local file},
# fetched by download_classifier
CLASSIFIER_DOWNLOADS = PLAN.classifier_downloads
# download_classifier's file names; a pattern matching nothing when no checkpoint is a URL
CHECKPOINT_FILES = "|".join(re.escape(Path(path).name) for path in CLASSIFIER_DOWNLOADS.values()) or "(?!)"


def classifier_init(wildcards):
    """The checkpoint files train_classifier starts from: downloaded copies of URLs, local paths as given."""
    return pretrained.local_inputs(config["classifier"])


def downloaded_checkpoint_setting(key):
    """Input function: the classifier config value (URL or sha256) behind a downloaded checkpoint file."""

    def lookup_setting(wildcards):
        init_key = next(k for k, path in CLASSIFIER_DOWNLOADS.items() if Path(path).name == wildcards.checkpoint)
        return config["classifier"][init_key if key == "url" else pretrained.INIT_KEYS[init_key]]

    return lookup_setting


def published_numbers(wildcards):
    """report.published, or the repository's config/published.yaml (found from the Snakefile, any --directory)."""
    return PLAN.published_file


# sanity checks (workflow/rules/sanity.smk)
SANITY = config["sanity"]
# learned methods whose decoder is also retrained on each randomised classifier (of those evaluated)
SANITY_RETRAINED = PLAN.sanity_retrained
SANITY_TARGETS = [
    *expand(
        results("sanity/{check}{ext}"),
        check=["cascading", "data_randomisation", "random_logit"],
        ext=[".csv", "_summary.csv", "_summary.md", "_summary.tex", "_summary.html"],
    ),
    *expand(results("figures/sanity_{check}.{ext}"), check=["cascading", "data_randomisation"], ext=["png", "pdf"]),
]


def sanity_classifier(wildcards):
    """The classifier a sanity decoder is retrained on: a cascading step's (step 0: the trained one) or the permuted-label one."""
    if wildcards.variant == "permuted":
        return results("sanity/classifiers/permuted/model.pt")
    step = int(wildcards.variant[len("step") :])
    return (
        results("classifier/model.pt")
        if step == 0
        else results(f"sanity/classifiers/step{step}/seed{wildcards.seed}/model.pt")
    )


def sanity_retrain_steps(wildcards):
    """The cascading steps with a retrained decoder for this method (the order of input.retrained)."""
    return sorted(SANITY["retrain_steps"]) if wildcards.method in SANITY_RETRAINED else []


def sanity_inputs(wildcards):
    """The trained classifier, the permuted-label one, and for learned methods the trained decoder (kept
    fixed) and, when retrained, the decoders retrained at each step and on the permuted-label classifier."""
    method, seed = wildcards.method, wildcards.seed
    inputs = {
        "audio": prepared("audio.npy"),
        "manifest": prepared("manifest.csv"),
        "classifier": results("classifier/model.pt"),
        "permuted": results("sanity/classifiers/permuted/model.pt"),
    }
    if is_learned(method):
        inputs["explainer"] = results(f"explainers/{method}/seed{seed}/model.pt")
    if method in SANITY_RETRAINED:
        inputs["retrained"] = [
            results(f"sanity/retrained/step{k}/{method}/seed{seed}/model.pt") for k in sanity_retrain_steps(wildcards)
        ]
        inputs["permuted_retrained"] = results(f"sanity/retrained/permuted/{method}/seed{seed}/model.pt")
    return inputs


def sanity_config(wildcards):
    """The config keys SanityJob.from_config reads; only their changes rerun a sanity job."""
    return {
        "sanity": {k: SANITY[k] for k in ("split", "n_clips", "batch_size", "cascade_steps")},
        "baselines": {wildcards.method: config.get("baselines", {}).get(wildcards.method, {})},
        "compute": config["compute"],
    }


# checks beyond the papers and the claims (workflow/rules/checks.smk)
CLAIMS_CONFIG = config["claims"]
# claims.file, or the repository's config/claims.yaml (found from the Snakefile, any --directory)
CLAIMS_FILE = PLAN.claims_file
# what the claims pool: the methods they compare (of those evaluated) on claims.conditions, one run per claims seed
CLAIMS_METHODS = PLAN.claims_methods
CLAIMS_CONDITIONS = PLAN.claims_conditions
# seeds only the claims use (`make claims`): their grouped evaluation runs only the claims' methods, so it
# trains no explainer the claims do not compare (LMAC-TD α = 0 of the embedded default)
CLAIMS_ONLY_SEEDS = PLAN.claims_only_seeds


def claims_evaluations(wildcards):
    """Per-sample results of every claims seed (evaluations and explainer trainings any seed runs on demand)."""
    return expand(
        results("evaluation/{condition}/{method}/seed{seed}.csv"),
        condition=CLAIMS_CONDITIONS,
        method=CLAIMS_METHODS,
        seed=CLAIMS_CONFIG["seeds"],
    )


def run_claims_evaluations(wildcards):
    """Per-sample results of the run's `seeds` on claims.conditions, for the claims table of `all`."""
    return expand(
        results("evaluation/{condition}/{method}/seed{seed}.csv"),
        condition=CLAIMS_CONDITIONS,
        method=CLAIMS_METHODS,
        seed=SEEDS,
    )


def cascading_summary(wildcards):
    """The sanity checks' cascading summary (randomisation claims); none when off or without the sanity rules: NOT RUN."""
    wanted = CLAIMS_CONFIG["randomisation"] and hasattr(rules, "sanity_cascading_summary")
    return [results("sanity/cascading_summary.csv")] if wanted else []


def sanity_outputs(wildcards):
    """Every file of the `sanity` target, for `checks`; none without the sanity rules."""
    return list(rules.sanity.input) if hasattr(rules, "sanity") else []


# Jobs that can use a GPU (training, evaluation, sanity checks) take the `gpu` resource and 4 threads
# only when they will run on one: the default profile allows one `gpu` job at a time, which on a
# CPU-only machine would serialise them for nothing. Run locally on a CPU they take one thread each and
# run side by side (small torch models scale poorly across threads), so `--cores N` runs N at once.
def runs_on_gpu():
    """Cluster jobs and dry runs: the declared GPU request; a local run: a CUDA device asked for or found."""
    # evaluated per job, once the executor is known; a dry run cannot tell a cluster from this machine
    if workflow.non_local_exec or workflow.dryrun:
        return True
    return gpu_for(config["device"], cuda_available())


def gpu_jobs(wildcards):
    """The `gpu` resource of a GPU-capable job: 1 on a GPU, 0 on a CPU."""
    return 1 if runs_on_gpu() else 0


# Which ready job starts first (Snakemake's priority; on a cluster, the order of submission): the longest
# first, so the many short evaluation jobs fill the cores at the end instead of one long job running alone
# there. LMAC-TD trainings lead: ~70 % of the paper budget, and on a CPU each holds the machine's memory.
# The local scheduler maximises the summed priority of the jobs it starts together, so theirs outweighs
# any set of other jobs that could start instead.
PRIORITY = {"lmac_td_training": 100, "training": 5, "sanity_checks": 1}


def gpu_job_threads(wildcards):
    """Threads of a GPU-capable job: 4 to feed a GPU, 1 on a CPU (jobs run side by side)."""
    return 4 if runs_on_gpu() else 1


def classifier_threads(wildcards):
    """The classifier trains alone (every later job waits for it): on a CPU it takes every core."""
    return 4 if runs_on_gpu() else max(1, workflow.cores)


# listening page, test and analysis (workflow/rules/listening.smk): the page's clips, the test's methods and conditions
try:
    LISTENING = listening_plan(config, METHODS)
except LmacError as err:
    raise WorkflowError(str(err)) from None


def listening_explanations(conditions, methods):
    """The first seed's explanation files, condition by condition, each in ``methods`` order."""
    return expand(
        results("explanations/{condition}/{method}/seed{seed}.npz"),
        condition=conditions,
        method=methods,
        seed=SEEDS[0],
    )


def listening_ratings(wildcards):
    """Every ratings file participants sent back; none: the analysis says where to put them."""
    return sorted(glob.glob(results("listening/ratings/*.csv")))
