# Two commands do everything on a fresh machine (Python 3.11+):
#   make book   - create .venv, install, execute every chapter (cpu profile, or paper on a GPU), build _build/html
#   make test   - create .venv, install, run the unit tests, execute every chapter at the smoke profile,
#                 build the smoke site and test it in headless Chromium (Debian's chromium must be installed)
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export STARCONN_CACHE ?= $(HOME)/.cache/starconn/store
unexport MPLBACKEND

.PHONY: book test unit notebooks site-test env clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	touch $@

env: $(STAMP)

book: $(STAMP)
	python -m starconn book $(if $(PROFILE),--profile $(PROFILE))
	@echo "book: $(CURDIR)/_build/html/index.html"

test: unit notebooks site-test

unit: $(STAMP)
	python -m pytest -q tests

notebooks: $(STAMP)
	STARCONN_PROFILE=smoke STARCONN_CACHE=$(CURDIR)/_build/cache-smoke STARCONN_OUT=$(CURDIR)/_build/results/smoke \
		python -m pytest -q --nbval-lax -p no:cacheprovider book/

# The rendered book as a reader meets it (tests/site): served on 127.0.0.1, opened in Debian's
# chromium through Playwright, nothing fetched from the internet. Builds the smoke site first when
# there is none (sharing the nbval run's smoke cache); screenshots go to _build/screenshots/.
site-test: $(STAMP)
	test -f _build/html/index.html || STARCONN_CACHE=$(CURDIR)/_build/cache-smoke python -m starconn book --profile smoke
	STARCONN_SITE=$(CURDIR)/_build/html STARCONN_SCREENSHOTS=$(CURDIR)/_build/screenshots \
		python -m pytest -q -p no:cacheprovider --confcutdir=tests/site tests/site

clean:
	rm -rf _build
