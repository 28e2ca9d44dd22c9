"""The Gradescope autograder: a zip with ``setup.sh`` and ``run_autograder`` at its root.

Gradescope unzips the bundle into ``/autograder/source``, runs ``setup.sh`` once when it builds the
image, then for every submission runs ``/autograder/source/run_autograder``, which grades the
files in ``/autograder/submission`` into ``/autograder/results/results.json``.

The zip holds this repository's layout, so the grader finds everything where it does here:
``autograder/`` (the package: grader, hidden tests, rubric), ``solutions/<pack>/`` (the
reference), and ``requirements.txt`` + ``constraints.txt`` (every package pinned).

Environment overrides of ``run_autograder`` (for tests and other hosts; Gradescope sets none):

- ``AUTOGRADER_ROOT``: the root instead of ``/autograder`` (a test simulates the layout in a
  temporary folder);
- ``AUTOGRADER_VENV``: where ``setup.sh`` makes the venv (default ``/opt/rnn-lstm-venv``, readable
  by every user, see below);
- ``AUTOGRADER_PYTHON``: the interpreter; otherwise ``$AUTOGRADER_VENV/bin/python``, else
  ``source/.venv/bin/python`` (older bundles), else the first ``python3`` on ``PATH`` (a test
  puts this repository's ``.venv/bin`` first on ``PATH`` instead of running setup.sh's pip install);
- ``AUTOGRADER_SANDBOX``: ``auto`` (default), ``bwrap`` or ``process``;
- ``AUTOGRADER_GRADER`` / ``AUTOGRADER_WRITE_RESULTS``: ``module:function`` replacing the grader
  and the results writer (this repository's tests use a stand-in grader this way).

Hardening (Gradescope runs everything as root in Docker, where bubblewrap usually cannot run, so
``auto`` falls back to process mode, whose worker drops to uid 65534: :mod:`autograder.sandbox.drop`):
``setup.sh`` puts the venv outside ``source`` with modes ``a+rX`` and fails the build (``python -m
autograder.integrations.bundle check``) when uid 65534 cannot run it; ``run_autograder``, as root, makes
``source`` (reference, grader package, hidden tests) root's with mode 0700 and ``results`` root's
with mode 0755, so the student's code can neither read the first nor write the second.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from autograder.engine import GRADE_ENTRY_POINT, pack
from autograder.paths import REPO_ROOT


def included() -> tuple:
    """What the Gradescope bundle holds: the package, the active pack's reference, the pins."""
    reference = pack.current().reference_dir.relative_to(REPO_ROOT).as_posix()
    return ("autograder", reference, "requirements.txt", "constraints.txt")


EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints"}
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip
GRADER = GRADE_ENTRY_POINT
WRITE_RESULTS = "autograder.feedback.report:write_results"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (base image: Ubuntu
# 22.04 or newer, Python 3.10 or newer). Every Python package is pinned by constraints.txt.
# The venv lives outside this folder, readable by every user: when bubblewrap cannot run (Docker
# without user namespaces) the student's code runs as uid 65534 and must still reach Python and
# numpy, while this folder (reference, grader, hidden tests) is closed to it (run_autograder).
set -euo pipefail
cd "$(dirname "$0")"
export AUTOGRADER_PACK="${AUTOGRADER_PACK:-@PACK@}"
VENV="${AUTOGRADER_VENV:-/opt/rnn-lstm-venv}"
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip bubblewrap
fi
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed")'
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
chmod -R a+rX "$VENV"
# Record the hidden tests' draws once (autograder/engine/draws.py), so that no submission pays for it.
"$VENV/bin/python" -m autograder draws || echo "setup.sh: draws not recorded; every grading will record them"
# Fails the build when a root grader could not run student code as uid 65534 (runtime not readable).
"$VENV/bin/python" -m autograder.integrations.bundle check
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root: grade $ROOT/submission into
# $ROOT/results/results.json. Overrides (see autograder/integrations/bundle.py): AUTOGRADER_ROOT,
# AUTOGRADER_VENV, AUTOGRADER_PYTHON, AUTOGRADER_SANDBOX.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
# Gradescope may run a copy of this script from $ROOT: the bundle itself is in $ROOT/source.
if [ ! -f "$HERE/autograder/__main__.py" ] && [ -f "$ROOT/source/autograder/__main__.py" ]; then HERE="$ROOT/source"; fi
VENV="${AUTOGRADER_VENV:-/opt/rnn-lstm-venv}"
PY="${AUTOGRADER_PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x "$VENV/bin/python" ]; then PY="$VENV/bin/python"
    elif [ -x "$HERE/.venv/bin/python" ]; then PY="$HERE/.venv/bin/python"
    else PY="$(command -v python3)"; fi
fi
mkdir -p "$ROOT/results"
if [ "$(id -u)" = 0 ]; then
    # Student code runs as uid 65534 (bwrap, or process mode's dropped worker): the reference, the
    # grader package and the hidden tests only root may read; results only root may write.
    chown -R root:root "$HERE" "$ROOT/results"
    chmod 0700 "$HERE"
    chmod 0755 "$ROOT/results"
fi
export AUTOGRADER_SANDBOX="${AUTOGRADER_SANDBOX:-auto}"
export AUTOGRADER_PACK="${AUTOGRADER_PACK:-@PACK@}"
cd "$HERE"
exec "$PY" -m autograder.integrations.bundle run --root "$ROOT"
"""

SCRIPTS: Dict[str, str] = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER}


def bundle_files(repo: Path = REPO_ROOT) -> Iterator[Tuple[str, Path]]:
    """``(name in the zip, file on disk)`` for every file of included(), sorted."""
    for entry in included():
        path = repo / entry
        if not path.exists():
            raise FileNotFoundError(f"cannot bundle {entry}: {path} does not exist (run `make release`?)")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            rel = file.relative_to(repo)
            if EXCLUDED_PARTS.isdisjoint(rel.parts) and file.suffix != ".pyc":
                yield rel.as_posix(), file


def _info(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) << 16)
    return info


def build_bundle(out: Path, repo: Path = REPO_ROOT) -> List[str]:
    """Write the Gradescope zip to ``out`` (atomically); returns the names it holds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    active = pack.current()
    if not active.folder.resolve().is_relative_to((repo / "autograder" / "packs").resolve()):
        raise FileNotFoundError(f"cannot bundle the pack in {active.folder}: a Gradescope bundle carries the packs "
                                f"of autograder/packs/ only (copy it there as autograder/packs/{active.name}/)")
    names = []
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, text in SCRIPTS.items():
            archive.writestr(_info(name, executable=True), text.replace("@PACK@", active.name))
            names.append(name)
        for name, file in bundle_files(repo):
            archive.writestr(_info(name, executable=False), file.read_bytes())
            names.append(name)
    os.replace(tmp, out)
    return names


# --------------------------------------------------------------------------- inside Gradescope


def find_submission(root: Path) -> Path:
    """The folder of ``root`` holding the graded modules (students often upload a folder).

    The shallowest folder (at most three levels down) with any graded module; ``root`` itself when
    none has one, so the grader reports the missing modules by name.
    """
    wanted = {f"{name}.py" for name in pack.current().graded_modules}
    frontier = [root] if root.is_dir() else []
    for _ in range(4):
        for folder in frontier:
            if any((folder / name).is_file() for name in wanted):
                return folder
        frontier = sorted(p for f in frontier for p in f.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in EXCLUDED_PARTS)
    return root


def _load(spec: str):
    from autograder.classroom.batch import load

    return load(spec)


def run_gradescope(root: Path, sandbox: str = "auto") -> int:
    """Grade ``root/submission`` into ``root/results/results.json``; 0 once a results file exists."""
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        submission = find_submission(root / "submission")
        results = _load(os.environ.get("AUTOGRADER_GRADER", GRADER))(submission, sandbox=sandbox)
        _load(os.environ.get("AUTOGRADER_WRITE_RESULTS", WRITE_RESULTS))(results, results_path)
        return 0
    except Exception as exc:  # noqa: BLE001 - Gradescope must always get a results file
        traceback.print_exc()
        failure = {
            "score": 0.0,
            "output": "The autograder could not grade this submission; your instructor has been told. "
                      f"({type(exc).__name__}: {exc})",
            "tests": [],
        }
        results_path.write_text(json.dumps(failure, indent=1) + "\n", encoding="utf-8")
        return 1


def check_sandbox() -> int:
    """setup.sh's last step: say which sandbox grading will use; 1 when student code would run as root.

    bubblewrap may work at build time and not when grading (or the reverse), so a root grader must
    always be able to fall back to process mode with a dropped uid.
    """
    from autograder.sandbox import registry as sandbox_registry

    report = sandbox_registry.readiness()  # each backend's part, bubblewrap first
    for line in report.lines:
        print(line)
    if report.problem:
        print(report.problem, file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.integrations.bundle", description="Gradescope entry point")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    run.add_argument("--sandbox", default=os.environ.get("AUTOGRADER_SANDBOX", "auto"))
    sub.add_parser("check", help="which sandbox grading will use; status 1 if student code would run as root")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check_sandbox()
    return run_gradescope(args.root, args.sandbox)


if __name__ == "__main__":
    sys.exit(main())
