# mimdsim: `make test` runs the whole test suite, `make demo` runs the main job (an SNN
# training-step estimate), `make validation` regenerates docs/validation.md.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache

.PHONY: test demo validation venv clean

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

demo: $(VENV)/.installed
	$(BIN)/mimdsim demo

validation: $(VENV)/.installed-test
	$(BIN)/python -m mimdsim.validation.page --out docs/validation.md --figures docs/figures --processes 2

venv: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps are newer than pyproject.toml after a successful install; editing it reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .hypothesis
