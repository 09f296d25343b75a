# obskit developer entry points. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.obskit-installed
ENV    ?= prod
# pytest workers: the tests that start servers mostly wait on them, so more workers than cores pays;
# worksteal moves queued tests off a worker held by a long one
TEST_JOBS ?= 6
# test-fast's tests use the CPU throughout: one worker per core
FAST_JOBS ?= 2
FAST_MARKERS := not servers and not install and not prometheus3 and not slow

.PHONY: demo test test-fast lint tools bench golden reference clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: set up, then generate the bundled example's tree for $(ENV) into out/$(ENV)
demo: $(STAMP)
	$(BIN)/obskit validate --spec examples
	$(BIN)/obskit gen --env $(ENV) --spec examples --out out/$(ENV)

## test: set up (Python packages, Debian's promtool and test servers), then run pytest; a test whose
## program is missing fails here (OBSKIT_REQUIRE_TOOLS=1) instead of skipping
test: $(STAMP) tools
	OBSKIT_REQUIRE_TOOLS=1 $(BIN)/pytest -n $(TEST_JOBS) --dist worksteal --durations=25

## test-fast: the edit-test loop; installs nothing, starts no server; tests needing promtool or amtool
## run when those are on PATH and skip (naming them) when not
test-fast: $(STAMP)
	$(BIN)/pytest -n $(FAST_JOBS) -m "$(FAST_MARKERS)" --hypothesis-profile=quick --durations=10

## tools: install the Debian packages the tests start (needs root or sudo), and unpack Prometheus 3.x
## from Debian's unstable suite into .tools/prometheus-3 and VictoriaMetrics, vmalert and vmalert-tool from
## trixie into .tools/victoria-metrics (never system-wide)
tools:
	scripts/install-tools
	scripts/install-prometheus3
	scripts/install-victoriametrics

## bench: wall time, CPU and peak RSS of validate, gen and test at 100 to 10,000 synthetic services and on a
## fleet of 100 and 1000 unlike services, against the README's targets (BENCH_SIZES, BENCH_FLEET,
## BENCH_TEST_LIMIT, BENCH_FLEET_TEST_LIMIT, BENCH_REPEAT to change), and the samples obskit's and Sloth's
## rules touch per evaluation in a real Prometheus
bench: $(STAMP) tools
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.evalcost

## golden: rewrite tests/golden from examples/ on purpose (review its diff, commit it with the change)
golden: $(STAMP)
	$(BIN)/python -m tests.golden_tree

## reference: rewrite docs/spec.md's field tables from the spec's declarations (obskit/spec/model.py and the
## engines' spec.py); the prose around them is the page's own
reference: $(STAMP)
	$(BIN)/python -m tests.reference_page

## lint: ruff, mypy (strict) and the import layers (the import-linter contract in pyproject.toml), as CI would
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
