# Two commands on a fresh machine with Python 3.11:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean prometheus browser faults-under-load

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cpu,embedded,training,lsst,interop,dev]'
	touch $(STAMP)

demo: $(STAMP)  ## set everything up and run the main job on embedded defaults
	$(BIN)/dmdt demo

prometheus:  ## Debian's Prometheus + promtool for the observability tests (root, as on CI)
	@command -v prometheus >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
	  >/dev/null; } || echo "prometheus not installed: its tests will be skipped"

browser:  ## Debian's Chromium + chromedriver for the web page's browser tests (root, as on CI)
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
	  chromium-driver >/dev/null; } || echo "chromium not installed: the browser tests will be skipped"

test: $(STAMP) prometheus browser  ## lint, type-check, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2

FAULT_TESTS := tests/test_faults.py tests/test_scale.py tests/test_cluster.py tests/test_poison_stream.py
faults-under-load: $(STAMP)  ## the fault tests 3 times in a row, both cores kept busy
	@yes > /dev/null & Y1=$$!; yes > /dev/null & Y2=$$!; status=0; \
	for i in 1 2 3; do $(BIN)/pytest -q -n 2 $(FAULT_TESTS) || status=1; done; \
	kill $$Y1 $$Y2; exit $$status

bench: $(STAMP)
	$(BIN)/python bench/dmdt.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
