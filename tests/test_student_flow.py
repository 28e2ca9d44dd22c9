"""The student's loop, from the release alone: its pinned requirements.txt installs into a fresh venv
and covers the public tests and the notebook; there the public tests fail on the skeleton and pass on
the solutions, and the notebook runs end to end on the solutions.

The install uses pip's own configuration (the machine's index and pip's cache), so it works offline
where pip does. The flow takes minutes (an install of about 110 packages, a notebook run): marked
``slow`` (make test-all and CI run it).
"""
from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Set

import pytest

from autograder.authoring.requirements import canonical, read_constraints, read_top_level, requirements_text
from autograder.packs.rnn_lstm import RELEASE_DIR, SOLUTIONS_DIR, SOURCE_DIR
from autograder.paths import REPO_ROOT
from autograder.quality.bench import install_venv

NOTEBOOK = "rnn_lstm.ipynb"
# What running the notebook needs beyond its imports: a kernel, and nbclient to run it without a browser.
NOTEBOOK_RUNTIME = {"ipykernel", "nbclient", "jupyterlab"}


def _imports(source: str) -> Set[str]:
    """Top-level names of the modules ``source`` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _notebook_code(path: Path) -> str:
    """The notebook's code cells, IPython magics left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def test_the_release_requirements_are_pinned_from_constraints_and_up_to_date():
    for tree in (SOURCE_DIR, RELEASE_DIR):
        assert (tree / "requirements.txt").read_text(encoding="utf-8") == \
            requirements_text(SOURCE_DIR / "requirements.in", REPO_ROOT / "constraints.txt"), \
            f"{tree}/requirements.txt is out of date: run `make release`"
    pinned = (RELEASE_DIR / "requirements.txt").read_text(encoding="utf-8")
    lines = [line for line in pinned.splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in lines) and len(lines) > 50
    constraints = (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert set(lines) <= set(constraints)


def test_the_release_requirements_cover_every_import_of_its_code_tests_and_notebook():
    local = {p.stem for p in RELEASE_DIR.rglob("*.py")}
    code = [p.read_text(encoding="utf-8") for p in sorted(RELEASE_DIR.rglob("*.py"))]
    imported = set().union(*(_imports(text) for text in code + [_notebook_code(RELEASE_DIR / NOTEBOOK)]))
    third_party = {n for n in imported - local if n not in sys.stdlib_module_names and n != "__future__"}
    assert {"numpy", "pytest", "matplotlib"} <= third_party  # the check sees the notebook's imports
    providers: Dict[str, list] = importlib.metadata.packages_distributions()
    asked = {canonical(n) for n in read_top_level(SOURCE_DIR / "requirements.in")}
    missing = sorted(n for n in third_party if not {canonical(d) for d in providers.get(n, [n])} & asked)
    assert missing == [], f"requirements.in does not provide these imports of the release: {missing}"
    assert NOTEBOOK_RUNTIME <= asked


@pytest.mark.slow
def test_a_fresh_venv_from_the_release_requirements_runs_the_public_tests_and_the_notebook(tmp_path):
    home = tmp_path / "home"  # no user-level Jupyter kernels or configuration
    home.mkdir()
    # --no-deps: requirements.txt must pin everything itself (pip check then finds anything missing)
    venv = install_venv(tmp_path / "venv", ["--no-deps", "-r", str(RELEASE_DIR / "requirements.txt")])
    print(f"\nrelease requirements: pip install {venv.seconds:.1f} s, venv {venv.megabytes:.0f} MB")
    env = {"PATH": f"{venv.venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    check = subprocess.run([str(venv.python), "-m", "pip", "check"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, f"requirements.txt misses a dependency:\n{check.stdout}{check.stderr}"
    lab = subprocess.run([str(venv.venv / "bin" / "jupyter"), "lab", "--version"], capture_output=True, text=True, env=env)
    assert lab.returncode == 0, lab.stderr[-2000:]

    timings = {}
    for name, tree, status in (("skeleton", RELEASE_DIR, 1), ("solutions", SOLUTIONS_DIR, 0)):
        folder = tmp_path / name / "rnn_lstm"
        shutil.copytree(tree, folder, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        start = time.perf_counter()
        done = subprocess.run([str(venv.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=folder,
                              capture_output=True, text=True, env=env, timeout=600)
        timings[name] = time.perf_counter() - start
        assert done.returncode == status, f"public tests on the {name}: exit {done.returncode}\n{done.stdout[-3000:]}"
        if name == "skeleton":
            assert "NotImplementedError" in done.stdout and " passed" not in done.stdout.splitlines()[-1]
    print(f"public tests: skeleton {timings['skeleton']:.1f} s, solutions {timings['solutions']:.1f} s")

    runner = ("import sys, nbformat\nfrom nbclient import NotebookClient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
              "print(sum(1 for c in nb.cells if c.cell_type == 'code' and c.outputs), 'code cells with outputs')\n")
    # The solutions' notebook keeps the hidden tests, which use hypothesis: the release's requirements pin it.
    hidden = read_constraints(REPO_ROOT / "constraints.txt")["hypothesis"]
    assert hidden.line in (RELEASE_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()
    folder = tmp_path / "solutions" / "rnn_lstm"
    start = time.perf_counter()
    done = subprocess.run([str(venv.python), "-c", runner, str(folder / NOTEBOOK), str(folder)], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, f"the notebook failed on the solutions:\n{done.stderr[-4000:]}"
    print(f"notebook on the solutions: {time.perf_counter() - start:.1f} s, {done.stdout.strip()}")
