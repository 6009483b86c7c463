# Chain-of-custody ledger: build/test entry points.
# Dependencies install lazily: the venv is (re)built only when requirements.lock or pyproject.toml
# is newer than its stamp, node_modules only when package-lock.json is newer than its stamp.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TOOLCHAIN_STAMP := $(VENV)/.toolchain
# ape-foundry finds Anvil only on PATH; .venv/bin holds a symlink to the npm Anvil binary.
APE_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: all deps venv node run test test-unit bench-gas artifacts ape-compile ape-test clean geth consortium

all: test

deps: $(VENV_STAMP) $(NODE_STAMP) $(TOOLCHAIN_STAMP)
venv: $(VENV_STAMP)
node: $(NODE_STAMP)

$(VENV_STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

# Not `npm ci`: the npm registry reachable here serves only the linux-amd64 platform package of
# @foundry-rs/anvil (the other optional platform packages 404), so the lock cannot list them and
# `npm ci` rejects it as out of sync. `npm install` with the committed lock installs exactly the
# locked versions and leaves package-lock.json unchanged.
$(NODE_STAMP): package-lock.json package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# Registers solc-js as py-solc-x's solc $(SOLC) and links anvil/solc into .venv/bin.
$(TOOLCHAIN_STAMP): $(VENV_STAMP) $(NODE_STAMP)
	$(PY) -m node_api.core.toolchain
	@touch $@

# The built contracts the node ships with (node_api/artifacts/, committed; tests/test_artifacts.py
# fails when they differ from contracts/). Rebuilds the targets of the current manifest; a second
# EVM version: `make artifacts EVM_VERSIONS="cancun paris"`.
artifacts: deps
	$(PY) -m node_api.core.compile $(foreach v,$(EVM_VERSIONS),--evm-version $(v))

# `make run DEMO=1` loads the demo scenario once (through the HTTP API, every write signed by its actor).
# The demo is development tooling (testkit/), so DEMO=1 starts the node through testkit.demo_node.
run: deps
	$(PY) -m $(if $(DEMO),testkit.demo_node,node_api)

# The ape smoke test runs first. tests/consortium (a 4-validator Clique network) spends most of its
# time waiting for blocks, so it runs as a second pytest process beside the rest of the suite: its
# output goes to build/test-consortium.log and is printed when both are done; the last line adds up
# both runs' counts (scripts/test_summary.py). Either run failing fails `make test`.
test: deps ape-test
	@mkdir -p build
	@$(PY) -m pytest -q -rs -p no:cacheprovider tests/consortium > build/test-consortium.log 2>&1 & cons=$$!; \
	{ $(PY) -m pytest -q -rs --ignore=tests/consortium; echo $$? > build/test-suite.rc; } | tee build/test-suite.log; \
	wait $$cons; cons_rc=$$?; main=$$(cat build/test-suite.rc); \
	echo "==== tests/consortium, run beside the suite above (build/test-consortium.log) ===="; \
	cat build/test-consortium.log; \
	echo "==== make test: suite exit $$main, tests/consortium exit $$cons_rc; both together: ===="; \
	$(PY) scripts/test_summary.py build/test-suite.log build/test-consortium.log; \
	[ "$$main" = 0 ] && [ "$$cons_rc" = 0 ]

# Only the tests that need no chain and no compiler (marker `chain` deselected): seconds, not minutes.
test-unit: venv
	$(PY) -m pytest -q -m "not chain"

# The consortium's engine: go-ethereum v1.13.15 (the last release with Clique), built once with Go into
# $${XDG_CACHE_HOME:-~/.cache}/coc-geth/v1.13.15 (outside the repo; testkit/geth.py); prints its path.
geth: venv
	$(PY) -m testkit.geth

# A 4-validator Clique network (2 s blocks), the contracts (paris build), two member nodes; prints
# the endpoints and runs until Ctrl-C. State in CONSORTIUM_DIR (resumed); FRESH=1 starts over.
CONSORTIUM_DIR ?= data/consortium
consortium: deps geth
	$(PY) -m testkit.consortium --dir $(CONSORTIUM_DIR) $(if $(FRESH),--fresh)

bench-gas: deps
	$(PY) scripts/bench_gas.py

# Ape on the same contracts/ sources (offline: solc-js via py-solc-x, Anvil from npm).
# Re-register solc first: ape finds it only through py-solc-x's ~/.solcx, which lives outside the
# repo (another clone may have re-pointed it). `-o addopts=` drops pyproject's `-p no:ape_test`.
ape-compile: deps
	@$(PY) -m node_api.core.toolchain >/dev/null
	$(APE_ENV) $(VENV)/bin/ape compile

ape-test: deps
	@$(PY) -m node_api.core.toolchain >/dev/null
	$(APE_ENV) $(VENV)/bin/ape test tests_ape -o addopts=""

clean:
	rm -rf build data .build
