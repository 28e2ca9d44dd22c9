"""The sandbox's interface: backends by mode name, what ``auto`` picks, the process they return, the limits.

What the sandbox keeps the worker from doing is tests/test_sandbox*.py's; this file checks the
shape: every mode is a :class:`Backend`, ``auto`` is the registry's choice, a
:class:`SandboxedProcess` owns its leftovers, and the two backends share helpers through shared
modules rather than through each other.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from autograder.engine import grade
from autograder.sandbox import launch as sandbox
from autograder.sandbox import registry
from autograder.sandbox.backend import Availability, Backend, SandboxedProcess
from autograder.sandbox.limits import GRADING, Limits

SANDBOX_DIR = Path(registry.__file__).resolve().parent
BWRAP_OK, BWRAP_WHY = sandbox.bwrap_status()


def test_every_mode_but_auto_is_a_backend_of_that_name() -> None:
    assert registry.MODES == ("auto", "bwrap", "process")
    for name in registry.MODES[1:]:
        backend = registry.backend(name)
        assert isinstance(backend, Backend) and backend.name == name
        text = backend.describe()
        assert text.startswith("Sandbox: ") and "\n" not in text  # one line for logs and results
    with pytest.raises(ValueError, match="unknown sandbox mode 'auto'"):
        registry.backend("auto")


def test_auto_resolves_to_bwrap_exactly_when_it_is_available() -> None:
    chosen = registry.resolve("auto")
    assert chosen is registry.backend("bwrap" if BWRAP_OK else "process")
    assert registry.resolve_mode("auto") == sandbox.resolve_mode("auto") == chosen.name
    assert registry.describe("auto") == chosen.describe() + ("" if BWRAP_OK else
                                                             f" (bubblewrap does not work here: {BWRAP_WHY[:300]})")


def test_availability_is_false_when_the_backend_does_not_work() -> None:
    works, why = Availability(False, "no user namespaces")
    assert not Availability(False, "no user namespaces") and (works, why) == (False, "no user namespaces")
    assert Availability(True) and registry.backend("process").available()


def test_a_backend_that_does_not_work_is_refused_when_asked_for_and_passed_over_by_auto(monkeypatch) -> None:
    bwrap = registry.backend("bwrap")
    monkeypatch.setattr(bwrap, "available", lambda: Availability(False, "simulated"))
    monkeypatch.setattr(bwrap, "probed", lambda: Availability(False, "simulated"))
    with pytest.raises(bwrap.unavailable_error, match="sandbox mode bwrap was requested but bubblewrap does not "
                                                      "work here: simulated"):
        registry.resolve("bwrap")
    assert registry.resolve("auto") is registry.backend("process")
    assert registry.describe("auto").endswith(" (bubblewrap does not work here: simulated)")
    assert registry.readiness().lines[0] == "sandbox: bubblewrap does not work: simulated"


def test_launch_returns_a_sandboxed_process_that_removes_its_folders_when_killed(tmp_path: Path) -> None:
    proc = registry.resolve("process").launch(
        [sys.executable, "-I", "-c", "import os; print(os.environ['TMPDIR'])"], submission=tmp_path)
    assert isinstance(proc, SandboxedProcess) and proc.mode == "process"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    private_tmp = Path(out.decode().strip())
    assert private_tmp.is_dir()
    proc.kill()
    assert not private_tmp.exists()
    proc.kill()  # idempotent
    facade = sandbox.launch([sys.executable, "-I", "-c", "pass"], submission=tmp_path, mode="process")
    assert isinstance(facade, SandboxedProcess)
    facade.wait(timeout=60)
    sandbox.kill(facade)


def test_grading_uses_the_grading_limits() -> None:
    assert GRADING == Limits(call_seconds=10.0)
    assert grade.GRADING is GRADING
    from autograder.classroom import batch

    assert batch.JOB_SECONDS == GRADING.job_seconds


def _imports(module: str) -> set:
    tree = ast.parse((SANDBOX_DIR / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_neither_backend_imports_the_other() -> None:
    bwrap_side = {"autograder.sandbox.bwrap", "autograder.sandbox.bwrap_backend"}
    process_side = {"autograder.sandbox.drop", "autograder.sandbox.process_backend"}
    for module in ("bwrap", "bwrap_backend"):
        assert not _imports(module) & process_side, module
    for module in ("drop", "process_backend"):
        assert not _imports(module) & bwrap_side, module


def test_the_modules_shipped_into_the_worker_use_only_the_standard_library() -> None:
    for module in ("confine", "landlock", "seccomp"):
        outside = {name for name in _imports(module) if name.split(".")[0] not in sys.stdlib_module_names}
        assert outside <= {"_ag_landlock", "_ag_seccomp", "autograder.sandbox",
                           "autograder.sandbox.landlock", "autograder.sandbox.seccomp"}, (module, outside)
