# Two commands do everything on a fresh machine (Python 3.11+):
#   make book   - create .venv, install, execute the chapters whose inputs changed (cpu profile, or paper
#                 on a GPU), build _build/html
#   make test   - create .venv, install; the unit tests, side by side with: every chapter executed once
#                 at the smoke profile (nbval), the smoke site rendered from those executions, and its
#                 browser test (a system Chromium, or Playwright's: python -m playwright install chromium)
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export STARCONN_CACHE ?= $(HOME)/.cache/starconn/store
unexport MPLBACKEND
SMOKE := STARCONN_PROFILE=smoke STARCONN_CACHE=$(CURDIR)/_build/cache-smoke STARCONN_OUT=$(CURDIR)/_build/results/smoke

.PHONY: book test unit notebooks smoke-site site-test smoke-checks env clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	touch $@

env: $(STAMP)

book: $(STAMP)
	python -m starconn book $(if $(PROFILE),--profile $(PROFILE))
	@echo "book: $(CURDIR)/_build/html/index.html"

# Two lanes on two cores, one thread each: the unit tests, and the smoke book (executed once by nbval,
# rendered, tested in the browser). Lines of the two lanes are interleaved in the output.
test: export OMP_NUM_THREADS = 1
test: export MKL_NUM_THREADS = 1
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 $(if $(filter 3.%,$(MAKE_VERSION)),,--output-sync=line) unit smoke-checks

unit: $(STAMP)
	python -m pytest -q tests

smoke-checks: $(STAMP)
	$(MAKE) --no-print-directory notebooks
	$(MAKE) --no-print-directory smoke-site BOOK_FLAGS=--no-execute
	$(MAKE) --no-print-directory site-test

# nbval executes every chapter (book order, the scorecard last) and, through starconn.nbval_record, keeps
# each execution in _build/executed/smoke/ for the smoke site.
notebooks: $(STAMP)
	$(SMOKE) python -m pytest -q -p no:cacheprovider -p starconn.nbval_record --nbval-lax --nbval-current-env book/

# The smoke site, built by the venv's interpreter without the venv on PATH (as scripts and IDEs run it);
# it re-executes only chapters whose inputs changed since their last execution. In `make test`, after
# `notebooks`, it must re-execute none (--no-execute: a stale chapter fails).
smoke-site: $(STAMP)
	env PATH=/usr/bin:/bin STARCONN_CACHE=$(CURDIR)/_build/cache-smoke \
		$(VENV)/bin/python -m starconn book --profile smoke $(BOOK_FLAGS)

# The rendered book as a reader meets it (tests/site): served on 127.0.0.1, opened in Chromium through
# Playwright, nothing fetched from the internet. Builds the smoke site first when there is none;
# screenshots go to _build/screenshots/.
site-test: $(STAMP)
	test -f _build/html/index.html || $(MAKE) --no-print-directory smoke-site
	STARCONN_SITE=$(CURDIR)/_build/html STARCONN_SCREENSHOTS=$(CURDIR)/_build/screenshots \
		python -m pytest -q -p no:cacheprovider --confcutdir=tests/site tests/site

clean:
	rm -rf _build
