# churnlab — every target calls the CLI inside the project's own virtualenv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
LOCK := requirements.lock
# the Spark engine's extra (pyspark, py4j: pyspark is a source distribution, built at install,
# about 22 s), with the same pins: installed by `make setup-spark`, and by the targets that
# run Spark (test, bench)
SPARK_LOCK := requirements-spark.lock
SPARK_STAMP := $(VENV)/.installed-spark
STAMP := $(VENV)/.installed
CHURNLAB := $(BIN)/churnlab

SEED ?= 42
ACCOUNTS ?= 5000
MONTHS ?= 24
DATA ?= data/demo
CUTOFFS ?= 2024-03-01:2025-12-01:1M
HORIZON ?= 90
FEATURES ?= data/features.parquet
EXPERIMENT ?= demo
SPECS ?= $(wildcard experiments/*.yaml)
METRIC ?=
TUNE_SPEC ?= experiments/lightgbm.yaml
TUNE_TRIALS ?= 20
SCORES ?= data/scores.parquet
AS_OF ?=
NB_OUT ?= reports/notebooks
# the stages of `make run`, in order (its help line lists them)
RUN_STEPS := data validate train tune compare promote export score report
empty :=
RUN_CHAIN := $(subst $(empty) $(empty), -> ,$(RUN_STEPS))
# the variables this Makefile sets, whose values `make help` shows in place of $(NAME)
HELP_VARS = $(shell sed -nE 's/^([A-Z_]+) *[?:]?= .*/\1/p' $(firstword $(MAKEFILE_LIST)))
RETRAIN_SPEC ?= experiments/lightgbm.yaml

# make's own commands write each module's bytecode at its first import into this project's .venv
# and src/ (Python's default), even where the environment sets PYTHONDONTWRITEBYTECODE: without
# it every process recompiled ~1,800 modules (12.5 of 55.6 s of a single-table train)
unexport PYTHONDONTWRITEBYTECODE
# Setup writes the bytecode of churnlab's modules, of the modules they import lazily (the tracking
# store, SHAP, plots, the DuckDB backend, the scoring server, the profit metrics and their sympy:
# 6.6 s of a small train when uncompiled) and of MLflow's store migrations:
# `.venv/bin/churnlab` run outside make where PYTHONDONTWRITEBYTECODE is set (Docker images,
# this CI) otherwise compiled ~1,070 modules in every `train --table` (2.4 of 12.1 s)
WARM_LAZY := shap lightgbm optuna jinja2 git matplotlib.pyplot matplotlib.backends.backend_agg \
	PIL.JpegImagePlugin PIL.features mlflow.store.tracking.sqlalchemy_store \
	mlflow.store.model_registry.sqlalchemy_store mlflow.store.tracking.sqlalchemy_workspace_store \
	mlflow.store.model_registry.sqlalchemy_workspace_store mlflow.store.db.utils \
	mlflow.tracing.processor.otel mlflow.tracing.export.utils mlflow.models.display_utils \
	mlflow.pyfunc.utils.environment mlflow.utils.search_logged_model_utils \
	mlflow.pyfunc.scoring_server sqlalchemy.dialects.sqlite alembic.command alembic.config \
	opentelemetry.sdk.metrics narwhals._pandas_like.namespace narwhals._interchange.dataframe \
	ibis.backends.duckdb ibis.backends.duckdb.converter ibis.formats.pandas pyarrow.dataset \
	pyarrow.pandas_compat pyarrow_hotfix empulse.metrics mlflow.tracing.utils.environment \
	mlflow.tracing.processor.base_mlflow pandas.core.arrays.arrow.extension_types \
	pandas.core.methods.to_dict PIL.BmpImagePlugin PIL.GifImagePlugin PIL.PpmImagePlugin rich.status
WARM_IMPORTS := import compileall, importlib, pathlib, pkgutil, churnlab, mlflow.store; \
	[importlib.import_module(m.name) for m in pkgutil.walk_packages(churnlab.__path__, "churnlab.") if not m.name.endswith("__main__")]; \
	[importlib.import_module(m) for m in "$(WARM_LAZY)".split()]; \
	[compileall.compile_dir(pathlib.Path(mlflow.store.__file__).parent / d, quiet=1) for d in ("db", "db_migrations")]

.DEFAULT_GOAL := help
.PHONY: help setup setup-spark lock run data validate features catalogue train tune compare promote export score monitor retrain watch serve report notebooks test docs lint bench clean clean-stores

help: ## list the targets, with the values of the variables they use (make help DATA=...)
	@bold=; plain=; if [ -t 1 ]; then bold=$$'\033[1m'; plain=$$'\033[0m'; fi; \
	grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(firstword $(MAKEFILE_LIST)) | \
	$(foreach v,$(HELP_VARS),$(v)='$($(v))') awk -F':.*## ' -v b="$$bold" -v p="$$plain" '{ \
		text = $$2; out = ""; \
		while (match(text, /\$$\([A-Z_]+\)/)) { \
			name = substr(text, RSTART + 2, RLENGTH - 3); \
			value = (name in ENVIRON) ? ENVIRON[name] : substr(text, RSTART, RLENGTH); \
			out = out substr(text, 1, RSTART - 1) value; text = substr(text, RSTART + RLENGTH) } \
		printf "  %s%-12s%s %s%s\n", b, $$1, p, out, text }'

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# bytecode for the modules churnlab runs (~2,800 of the lock's ~17,000), written by importing
	@# them once: a process run outside make where PYTHONDONTWRITEBYTECODE is set would otherwise
	@# recompile them all (12 s); compiling every installed file at install took 30 s more
	@$(BIN)/python -c '$(WARM_IMPORTS)'
	@touch $@

setup: $(STAMP) ## create or update .venv from the lock (re-installs only when the lock changes)

$(SPARK_STAMP): $(STAMP) $(SPARK_LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r $(SPARK_LOCK)
	@touch $@

setup-spark: $(SPARK_STAMP) ## also install the Spark engine (pyspark) from $(SPARK_LOCK)

lock: ## regenerate the locks from pyproject.toml (pinned, hashed): $(LOCK) without Spark, $(SPARK_LOCK) with it
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 --generate-hashes --quiet -o $(SPARK_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra dev -c $(SPARK_LOCK) --python-version 3.11 --generate-hashes --quiet -o $(LOCK)

data: $(STAMP) ## simulate the demo dataset into $(DATA)
	$(CHURNLAB) simulate --accounts $(ACCOUNTS) --months $(MONTHS) --seed $(SEED) --out $(DATA)

validate: $(STAMP) ## validate the dataset in $(DATA) (every problem in one message)
	$(CHURNLAB) validate $(DATA)

features: $(STAMP) ## build the demo's observation + feature table ($(FEATURES))
	$(CHURNLAB) features --data $(DATA) --cutoffs $(CUTOFFS) --horizon $(HORIZON) --out $(FEATURES)

catalogue: $(STAMP) ## export the feature catalogue to docs/ (Markdown and JSON)
	$(CHURNLAB) catalogue --format md --out docs/feature-catalogue.md
	$(CHURNLAB) catalogue --format json --out docs/feature-catalogue.json

train: $(STAMP) ## train every spec in experiments/ (each an MLflow run and a registered version)
	$(CHURNLAB) train $(SPECS)

tune: $(STAMP) ## tune $(TUNE_SPEC) with Optuna ($(TUNE_TRIALS) trials; resumable), register the best
	$(CHURNLAB) tune $(TUNE_SPEC) --trials $(TUNE_TRIALS)

compare: $(STAMP) ## leaderboard of the experiment's runs by test metrics
	$(CHURNLAB) compare --experiment $(EXPERIMENT) $(if $(METRIC),--metric $(METRIC))

promote: $(STAMP) ## alias the best version 'champion' if it beats the current one
	$(CHURNLAB) promote --experiment $(EXPERIMENT) $(if $(METRIC),--metric $(METRIC))

export: $(STAMP) ## export the champion to models/churn-$(EXPERIMENT)
	$(CHURNLAB) export --model models:/churn-$(EXPERIMENT)@champion --out models/churn-$(EXPERIMENT)

score: $(STAMP) ## score every account active at the data's last date (or AS_OF) with the champion (logged: a monitoring batch)
	$(CHURNLAB) score --model models:/churn-$(EXPERIMENT)@champion --data $(DATA) $(if $(AS_OF),--as-of $(AS_OF)) --out $(SCORES) --log

monitor: $(STAMP) ## drift and performance of the champion's logged batches; exit 3 means retrain
	$(CHURNLAB) monitor --model models:/churn-$(EXPERIMENT)@champion --data $(DATA) $(if $(AS_OF),--as-of $(AS_OF))

retrain: $(STAMP) ## champion/challenger on $(RETRAIN_SPEC)'s newest complete cutoffs; promote only a better one
	$(CHURNLAB) retrain $(RETRAIN_SPEC)

watch: $(STAMP) ## the scheduled check: monitor, and on its retrain verdict (exit 3) retrain; fails on any error
	@$(CHURNLAB) monitor --model models:/churn-$(EXPERIMENT)@champion --data $(DATA) $(if $(AS_OF),--as-of $(AS_OF)); \
	code=$$?; \
	if [ $$code -eq 3 ]; then $(CHURNLAB) retrain $(RETRAIN_SPEC); \
	else exit $$code; fi

serve: $(STAMP) ## serve the champion over REST on 127.0.0.1:5001 (POST /invocations)
	$(CHURNLAB) serve --model models:/churn-$(EXPERIMENT)@champion

report: $(STAMP) ## HTML report of the champion of $(EXPERIMENT) into reports/ (also logged to its run)
	$(CHURNLAB) report --experiment $(EXPERIMENT) --out reports

notebooks: $(STAMP) ## execute the notebooks top to bottom (executed copies in $(NB_OUT)); Jupyter: docs/analytics.md
	$(CHURNLAB) notebooks --out $(NB_OUT)

run: $(RUN_STEPS) ## the whole demo: $(RUN_CHAIN) (features built once and cached; about 4 minutes on 2 cores)

test: $(SPARK_STAMP) docs ## check the layer contracts, build the docs strictly, run the test suite
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder -q --durations=20

docs: $(STAMP) ## build the documentation site into site/ (mkdocs --strict, offline)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP) ## ruff lint and format check, layer contracts (lint-imports)
	$(BIN)/ruff check src tests bench notebooks
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

bench: $(SPARK_STAMP) ## run the benchmarks, results in bench/results/*.json
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/train.py --baselines --single-table-speed
	$(BIN)/python bench/tune.py
	$(BIN)/python bench/score.py
	$(BIN)/python bench/survival.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/monitor.py

clean: ## remove what churnlab made and can remake: .venv, site/, reports/, data/cache, the features and scores files, the simulated data/demo (never your own data, runs or exports)
	rm -rf $(VENV) site reports data/cache $(FEATURES) $(SCORES)
	@if [ -f "$(DATA)/.churnlab.json" ]; then echo "rm -rf $(DATA)"; rm -rf "$(DATA)"; \
	elif [ -e "$(DATA)" ]; then echo "kept $(DATA): churnlab did not make it"; fi

clean-stores: ## delete ALL run history, registered models and studies (mlflow.db, optuna.db, mlartifacts/, mlruns/); exports in models/ are kept
	rm -rf mlflow.db optuna.db mlartifacts mlruns .mlflow.db.*.lock .optuna.db.*.lock
