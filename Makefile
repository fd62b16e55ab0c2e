# Two commands do everything on a fresh machine (Python 3.11+):
#   make book   - create .venv, install, execute every chapter (cpu profile, or paper on a GPU), build _build/html
#   make test   - create .venv, install, run the unit tests and execute every chapter at the smoke profile
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export STARCONN_CACHE ?= $(HOME)/.cache/starconn/store
unexport MPLBACKEND

.PHONY: book test unit notebooks env clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	touch $@

env: $(STAMP)

book: $(STAMP)
	python -m starconn book $(if $(PROFILE),--profile $(PROFILE))
	@echo "book: $(CURDIR)/_build/html/index.html"

test: unit notebooks

unit: $(STAMP)
	python -m pytest -q tests

notebooks: $(STAMP)
	STARCONN_PROFILE=smoke STARCONN_CACHE=$(CURDIR)/_build/cache-smoke STARCONN_OUT=$(CURDIR)/_build/results/smoke \
		python -m pytest -q --nbval-lax -p no:cacheprovider book/

clean:
	rm -rf _build
