# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv from the pinned versions in constraints.txt through `make setup`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed

# The Pythons this repository claims (README, Dependencies): `make setup` refuses older ones and
# warns about newer ones; `make check-installs` resolves constraints.txt for the first patch
# release of each (3.10.0, 3.11.0, ...), where a Requires-Python bound inside a minor series bites.
PYTHONS := 3.10 3.11 3.12 3.13
# uv (the resolver behind `make constraints` and `make check-installs`) lives in its own venv, pinned
# by tools/requirements-uv.txt, so the graded .venv holds only what grading needs.
TOOLS   := .venv-tools
UV      := $(TOOLS)/bin/uv
# Python code that must run on every claimed Python (the student release is checked through source/,
# the lecture notebook through its jupytext text file in notebooks/).
CODE    := autograder tests tools source notebooks

.PHONY: setup test test-all test-fast demo release check-release bench clean help constraints check-installs formative-check

help:
	@echo "make setup    create .venv with the pinned dependencies (PYTHON=/path/to/python3.10 or newer)"
	@echo "make constraints     regenerate constraints.txt from requirements.txt (uv, every claimed Python)"
	@echo "make check-installs  check that constraints.txt installs on the first patch release of each claimed Python"
	@echo "make test     ruff and this repository's tests on every core, without the slow sweeps; prints its wall time"
	@echo "make test-all the same with the slow sweeps too (what CI runs, .ci/run)"
	@echo "make demo     the main job: regenerate the release, grade the example class, print the gradebook"
	@echo "make release  check the notebook against its text twin, regenerate assignments/ and solutions/ from source/"
	@echo "make bench    time grading (median seconds per submission)"
	@echo "make mutation grade every mutant of the reference; rewrites reports/mutation.md"
	@echo "make formative-check  compare the student CI's formative grades with the real ones; writes reports/formative.md"

setup: $(STAMP)

# The pinned dependencies, then the autograder package itself, editable (pyproject.toml's build-system;
# setuptools is pinned with the rest, so the build needs no download).
$(STAMP): requirements.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make setup: no Python '$(PYTHON)' here; pass one with PYTHON=/path/to/python3 ($(firstword $(PYTHONS)) or newer)"; exit 1; }
	@$(PYTHON) -c "$$CHECK_PYTHON" $(PYTHONS)
	@$(PYTHON) -m venv $(VENV) || { echo "make setup: '$(PYTHON) -m venv' failed. On Debian or Ubuntu install the venv module of this Python: apt-get install $$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])'), then run make again."; exit 1; }
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# pip byte-compiles what it installs, not an editable package: without this, where PYTHONDONTWRITEBYTECODE
	@# is set (many containers), every grading compiles the grader's modules again (~0.1 s of CPU)
	$(PY) -m compileall -q autograder >/dev/null
	@touch $(STAMP)

# Run by the Python being set up, so it must parse on old Pythons too (no f-strings).
define CHECK_PYTHON
import sys
claimed = [tuple(int(p) for p in v.split(".")) for v in sys.argv[1:]]
found = sys.version_info[:2]
where = sys.executable + " is Python " + sys.version.split()[0]
if found < claimed[0]:
    sys.exit("make setup: Python %d.%d or newer is needed, but %s; pass another with PYTHON=/path/to/python3" % (claimed[0] + (where,)))
if found > claimed[-1]:
    print("make setup: warning: %s, newer than the Pythons tested (%s); constraints.txt may not install" % (where, " ".join(sys.argv[1:])))
endef
export CHECK_PYTHON

# Regenerate constraints.txt from requirements.txt: one universal resolution valid from the oldest
# claimed Python up. `--fork-strategy fewest` gives every package one version on every claimed Python
# (markers only for packages some Pythons do not need), so a grade never depends on the Python. The pins
# already there are kept unless a requirement forces a change; `make constraints UV_ARGS=--upgrade`
# moves everything to the newest versions (then run `make test` and regrade the example class).
constraints: $(TOOLS)/.installed
	UV_PYTHON_DOWNLOADS=never $(UV) pip compile --quiet --universal --python-version $(firstword $(PYTHONS)) \
		--fork-strategy fewest --custom-compile-command "make constraints" $(UV_ARGS) requirements.txt -o constraints.txt

# Every pin of constraints.txt installs (Requires-Python and wheels) on the first patch release of
# each claimed Python, and every package needed there is pinned. Reads the index; installs nothing.
# The code too: vermin finds syntax and standard library newer than the oldest claimed Python
# (tomllib is checked by check_installs.py instead: vermin cannot see the tomli fallback).
check-installs: $(TOOLS)/.installed
	$(TOOLS)/bin/python tools/check_installs.py --uv $(UV) --code $(CODE) -- $(addsuffix .0,$(PYTHONS))
	$(TOOLS)/bin/vermin --quiet --no-tips --violations --eval-annotations --exclude tomllib -t=$(firstword $(PYTHONS))- $(CODE)

$(TOOLS)/.installed: tools/requirements-uv.txt
	@command -v $(PYTHON) >/dev/null || { echo "make: no Python '$(PYTHON)' here; pass one with PYTHON=/path/to/python3"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-uv.txt
	@touch $@

# The lecture notebook and its jupytext text file (notebooks/) first: in sync, nbgrader metadata valid.
# The release's requirements.txt is pinned from its requirements.in and constraints.txt first.
release: setup
	$(PY) -m autograder.authoring.notebooks check
	$(PY) -m autograder.authoring.requirements
	$(PY) -m autograder release

check-release: setup
	$(PY) -m autograder.authoring.notebooks check
	$(PY) -m autograder.authoring.requirements --check
	$(PY) -m autograder release --check

# `make test`: ruff, then every test except the exhaustive sweeps (marked `slow`), in parallel: one
# pytest-xdist worker per core the system shows (TEST_JOBS=N for N workers, TEST_JOBS=1 for one process).
# `make test-all` (CI: .ci/run) runs the sweeps too. --dist loadfile keeps a test file on one worker,
# so its module fixtures are built once. Both end with their wall time since make started (setup
# included) and the CPU time of the tests. tests/README.md: markers, shared graded fixtures, xdist rules.
TEST_JOBS ?= logical
PYTEST_PARALLEL = $(if $(filter 1,$(TEST_JOBS)),-p no:xdist,-n $(TEST_JOBS) --dist loadfile)
STARTED := $(shell date +%s)
# (`times` must run in the recipe's own shell, not in a pipe or $(...), to see pytest's CPU time.)
define TIMED
status=$$?; s=$$(( $$(date +%s) - $(STARTED) )); used=$$(mktemp); times > $$used; \
cpu=$$(awk 'END { split($$1, u, "m"); split($$2, k, "m"); c = u[1] * 60 + u[2] + k[1] * 60 + k[2]; printf "%d min %d s", c / 60, c % 60 }' $$used); \
rm -f $$used; echo "make $@: $$((s / 60)) min $$((s % 60)) s (CPU time of the tests: $$cpu)"; exit $$status
endef

test: setup
	$(BIN)/ruff check .
	@echo "$(PY) -m pytest $(PYTEST_PARALLEL) -m 'not slow' $(PYTEST_ARGS)"; \
	$(PY) -m pytest $(PYTEST_PARALLEL) -m 'not slow' $(PYTEST_ARGS); $(TIMED)

test-all: setup
	$(BIN)/ruff check .
	@echo "$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)"; \
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS); $(TIMED)

demo: setup release
	@echo "== public tests on the reference solutions (solutions/rnn_lstm): all should pass"
	cd solutions/rnn_lstm && ../../$(PY) -m pytest -q -p no:cacheprovider tests
	@echo "== grading the example class (examples/submissions) with grade-all; a rerun grades only what changed (--force: all)"
	$(PY) -m autograder grade-all examples/submissions --out out/demo --table
	@echo "== reports: out/demo/gradebook.csv, out/demo/summary.md (+ score_histogram.png, function_means.png),"
	@echo "   out/demo/<student>/results.json, feedback.md, feedback.html"

bench: setup
	$(PY) -m compileall -q autograder >/dev/null  # the modules edited since setup too: timed as installed
	$(PY) -m autograder bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .hypothesis .cache
mutation: setup ; $(PY) -m autograder mutation  # grade every mutant of the reference, write reports/mutation.{md,json}
formative-check: setup ; $(PY) -m autograder formative-check $(ARGS)  # formative (student CI) vs real grades, write reports/formative.{md,json}; ARGS="--mutants 50" samples the mutants
