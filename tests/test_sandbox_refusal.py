"""Where nothing can contain student code (no bubblewrap, no Landlock, no seccomp: macOS, Windows,
old kernels), ``grade`` and ``grade-all`` refuse to run it unless the TA passes --unsafe-no-sandbox.

The absence is simulated by replacing the probes (the bwrap backend's available(), confine.status/available)
in this process; the commands run in-process through the CLI. With the flag the (stand-in) grader
runs; with containment present nothing is refused.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import cli
from autograder.cli import grade as grade_command
from autograder.cli import grade_all as grade_all_command
from autograder.sandbox import confine, registry
from autograder.sandbox import launch as sandbox
from autograder.sandbox.backend import Availability

BWRAP = registry.backend("bwrap")


@pytest.fixture
def nothing_contains(monkeypatch):
    monkeypatch.setattr(BWRAP, "available", lambda: Availability(False, "simulated: bwrap needs Linux"))
    monkeypatch.setattr(confine, "status", lambda: {"landlock": (False, "simulated: no Landlock"),
                                                    "seccomp": (False, "simulated: no seccomp")})
    monkeypatch.setattr(confine, "available", lambda: [])


def _submission(tmp_path: Path) -> Path:
    folder = tmp_path / "alice"
    folder.mkdir(parents=True)
    (folder / "rnn_layers.py").write_text("X = 1\n")
    return folder


def _said(err: str) -> None:
    assert "refusing to run untrusted student code" in err
    assert "--unsafe-no-sandbox" in err and "gives up" in err
    assert "Gradescope" in err and "Linux machine" in err and "Linux VM or container" in err
    assert "simulated: no Landlock" in err and "simulated: no seccomp" in err


@pytest.mark.parametrize("mode", ["auto", "process"])
def test_grade_refuses_without_any_containment(nothing_contains, tmp_path, capsys, mode) -> None:
    results = tmp_path / "results.json"
    assert cli.main(["grade", str(_submission(tmp_path)), "--results", str(results), "--sandbox", mode]) == 2
    err = capsys.readouterr().err
    _said(err)
    assert ("simulated: bwrap needs Linux" in err) == (mode == "auto")
    assert not results.exists()


def test_grade_all_refuses_without_any_containment_and_writes_nothing(nothing_contains, tmp_path, capsys) -> None:
    _submission(tmp_path / "class")
    out = tmp_path / "out"
    assert cli.main(["grade-all", str(tmp_path / "class"), "--out", str(out), "--sandbox", "process"]) == 2
    _said(capsys.readouterr().err)
    assert not out.exists()


def test_the_flag_lets_the_grader_run(nothing_contains, tmp_path, monkeypatch) -> None:
    ran = []
    monkeypatch.setattr(grade_command, "grade_submission",
                        lambda path, sandbox: ran.append(("grade", sandbox)) or {"score": 1.0, "tests": []})
    results = tmp_path / "results.json"
    assert cli.main(["grade", str(_submission(tmp_path)), "--results", str(results), "--sandbox", "process",
                     "--unsafe-no-sandbox"]) == 0
    assert results.exists()

    def fake_grade_all(submissions, out, **kwargs):
        ran.append(("grade-all", kwargs["sandbox"]))
        raise grade_all_command.BatchInputError("stand-in grade_all reached")

    monkeypatch.setattr(grade_all_command, "grade_all", fake_grade_all)
    assert cli.main(["grade-all", str(tmp_path), "--out", str(tmp_path / "out"), "--sandbox", "process",
                     "--unsafe-no-sandbox"]) == 2
    assert ran == [("grade", "process"), ("grade-all", "process")]


def test_nothing_is_refused_where_some_containment_works(monkeypatch) -> None:
    monkeypatch.setattr(BWRAP, "available", lambda: Availability(False, "simulated"))
    monkeypatch.setattr(confine, "available", lambda: ["seccomp"])
    assert sandbox.refusal("process") == "" and sandbox.refusal("auto") == ""
    monkeypatch.setattr(BWRAP, "available", lambda: Availability(True))
    monkeypatch.setattr(confine, "available", lambda: [])
    assert sandbox.refusal("auto") == ""


def test_this_machine_is_not_refused() -> None:
    if not (sandbox.bwrap_status()[0] or confine.available()):
        pytest.skip("this machine really has no containment")
    assert sandbox.refusal("auto") == ""
