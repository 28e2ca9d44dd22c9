# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv from the pinned versions in constraints.txt through `make setup`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed

.PHONY: setup test test-fast demo release check-release bench clean help

help:
	@echo "make setup    create .venv with the pinned dependencies"
	@echo "make test     run this repository's tests (what CI runs)"
	@echo "make demo     the main job: regenerate the release, grade the example class, print the gradebook"
	@echo "make release  regenerate assignments/ and solutions/ from source/"
	@echo "make bench    time grading (median seconds per submission)"
	@echo "make mutation grade every mutant of the reference; rewrites reports/mutation.md"

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@touch $(STAMP)

release: setup
	$(PY) -m autograder release

check-release: setup
	$(PY) -m autograder release --check

test: setup
	$(PY) -m pytest

demo: setup release
	@echo "== public tests on the reference solutions (solutions/rnn_lstm): all should pass"
	cd solutions/rnn_lstm && ../../$(PY) -m pytest -q -p no:cacheprovider tests
	@echo "== grading the example class (examples/submissions) with grade-all; a rerun grades only what changed (--force: all)"
	$(PY) -m autograder grade-all examples/submissions --out out/demo --table
	@echo "== reports: out/demo/gradebook.csv, out/demo/summary.md (+ score_histogram.png, function_means.png),"
	@echo "   out/demo/<student>/results.json, feedback.md, feedback.html"

bench: setup
	$(PY) -m autograder bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
mutation: setup ; $(PY) -m autograder mutation  # grade every mutant of the reference, write reports/mutation.{md,json}
