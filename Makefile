# Two commands matter: `make run` (set up, start the server) and `make test`
# (set up with the test extras, run the whole suite). Both create .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test bench bench-classic screenshots clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# compileall: an editable install leaves no bytecode, and where PYTHONDONTWRITEBYTECODE
# is set every sigchat-send would compile its modules again (~20 ms of start-up).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q src
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q src
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/sigchat-server $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m compileall -q src
	$(BIN)/python scripts/bench.py $(ARGS)

# Every classic convention's C peers (tests/peers/conventions.py) against sigchat; needs gcc.
bench-classic: $(VENV)/.installed
	$(BIN)/python scripts/bench_classic.py $(ARGS)

screenshots: $(VENV)/.installed-test
	$(BIN)/python scripts/make_screenshots.py
	$(BIN)/python scripts/make_check_screenshot.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
