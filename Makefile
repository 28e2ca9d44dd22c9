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
	@echo "make demo     the main job: regenerate the release and show the public tests on both trees"
	@echo "make release  regenerate assignments/ and solutions/ from source/"
	@echo "make bench    time grading (median seconds per submission)"

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
	@echo "== public tests on the student skeleton (assignments/rnn_lstm): each fails with the NotImplementedError of a function to do"
	-cd assignments/rnn_lstm && ../../$(PY) -m pytest -q -p no:cacheprovider --maxfail=3 tests
	@echo "== done: the skeleton fails (expected); the reference passes"

bench: setup
	$(PY) -m autograder bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
mutation: setup ; $(PY) -m autograder mutation  # grade every mutant of the reference, write reports/mutation.{md,json}
