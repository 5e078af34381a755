# Two commands set everything up on a fresh machine:
#   make reproduce   run the whole workflow on the embedded default (config/config.yaml)
#   make test        run the test suite (make test-fast: the unit tests only, without the workflow runs)
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# the run folder of config/config.yaml (its `run` key): results/embedded/, logs/embedded/, benchmarks/embedded/
RUN ?= embedded

.PHONY: reproduce test test-fast lint format dryrun clean-results venv smoke-paper

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# the whole workflow, then its self-contained HTML report (results/embedded/report.html)
reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/$(RUN)/report.html

# config/paper.yaml end to end in smoke mode on this machine (docs/smoke_runs.md): full model sizes, a few
# clips and steps, against stand-in downloads served on 127.0.0.1; outputs in .smoke/paper/results/paper-smoke/
smoke-paper: $(STAMP)
	$(BIN)/python -m lmac.smoke.paper --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

# every test but the slow ones: tests/workflow/conftest.py marks all workflow tests slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# every check CI runs before the tests; `make format` rewrites the code the way they want it
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt workflow

dryrun: $(STAMP)
	$(BIN)/snakemake -n

# Figures and tables from finished results (docs/figures_and_tables.md): the figure and table rules
# are forced to rerun; upstream jobs run only if an output is missing or older than its inputs
# (--rerun-triggers mtime: an edited script or config does not retrain here; `make reproduce` does).
#   make figures   every table (results/embedded/tables/) and figure (results/embedded/figures/, PNG + PDF)
#   make report    the self-contained HTML report of them, results/embedded/report.html
FIGURE_RULES := metrics_table paper_tables metrics_table_html faithfulness_bars localisation_bars \
	alpha_ablation training_curves example_figure claims claims_figure

.PHONY: figures report

figures: $(STAMP)
	$(BIN)/snakemake figures --cores $(CORES) --rerun-triggers mtime --forcerun $(FIGURE_RULES)

report: $(STAMP)
	$(BIN)/snakemake --report results/$(RUN)/report.html

# Checks beyond the papers (docs/beyond_the_papers.md): listenability, round-trip and masking-operator
# tables and figures, the sanity checks and the papers' claims on claims.seeds (trains those seeds' explainers)
#   make checks    all of them;   make claims   only results/embedded/tables/claims_seeds.* (with the sanity checks)
# (`make reproduce` already writes results/embedded/tables/claims.*: the claims on the run's seeds, without the sanity checks)
.PHONY: checks claims

checks: $(STAMP)
	$(BIN)/snakemake checks --cores $(CORES)

claims: $(STAMP)
	$(BIN)/snakemake claims_seeds results/$(RUN)/figures/claims_seeds.png --cores $(CORES)

# Mutation testing of the numerical core (docs/mutation.md): mutmut mutates the modules listed in pyproject's
# [tool.mutmut] one change at a time and runs their fast unit tests against each; about 22 minutes on
# 2 cores, so not part of CI. `mutmut results` lists the survivors, `mutmut show NAME` one mutant's diff.
.PHONY: mutation

$(VENV)/.installed-mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	touch $@

mutation: $(VENV)/.installed-mutation
	OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children 1
	$(BIN)/mutmut results

# removes one run's folders (RUN=paper for config/paper.yaml's); other runs and the downloads stay
clean-results:
	rm -rf results/$(RUN) logs/$(RUN) benchmarks/$(RUN)

# DVC versions the results; Snakemake alone runs the workflow (docs/dvc.md):
#   make dvc-track   dvc add the results worth keeping; then `git add` the *.dvc pointers it prints, commit
#   make dvc-push    upload them to the default DVC remote (`dvc remote add -d NAME URL`), or DVC_REMOTE=NAME
#   make restore     on a fresh clone: dvc pull, then snakemake --touch, so `make figures` retrains nothing
# SNAKEMAKE_ARGS go to restore's snakemake calls, e.g. SNAKEMAKE_ARGS="--configfile config/paper.yaml".
DVC_REMOTE ?=
SNAKEMAKE_ARGS ?=

.PHONY: dvc-track dvc-push restore

dvc-track: $(STAMP)
	$(BIN)/python -m lmac.versioning track

dvc-push: $(STAMP)
	$(BIN)/dvc push $(if $(DVC_REMOTE),--remote $(DVC_REMOTE))

restore: $(STAMP)
	$(BIN)/python -m lmac.versioning restore --cores $(CORES) $(if $(DVC_REMOTE),--remote $(DVC_REMOTE)) -- $(SNAKEMAKE_ARGS)
