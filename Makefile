# Two commands set everything up on a fresh machine:
#   make reproduce   run the whole workflow on the embedded default (config/config.yaml)
#   make test        run the test suite
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: reproduce test lint dryrun clean-results venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/snakemake --lint

dryrun: $(STAMP)
	$(BIN)/snakemake -n

clean-results:
	rm -rf results/data results/classifier results/explainers results/explanations results/evaluation results/tables results/figures results/work logs benchmarks/*.tsv .snakemake
