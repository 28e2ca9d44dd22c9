"""The committed assignments/ and solutions/ are exactly what `python -m autograder release` makes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autograder.authoring import release
from autograder.paths import REPO_ROOT


def test_committed_trees_match_a_fresh_release() -> None:
    diffs = release.check()
    assert not diffs, "assignments/ or solutions/ are out of date; run `make release`:\n" + "\n".join(diffs)


def small_source(root: Path) -> Path:
    source = root / "source"
    (source / "tests").mkdir(parents=True)
    (source / "m.py").write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", encoding="utf-8")
    (source / "helper.py").write_text("X = 1\n", encoding="utf-8")
    (source / "tests" / "test_m.py").write_text("### BEGIN HIDDEN TESTS\nH = 1\n### END HIDDEN TESTS\n", encoding="utf-8")
    return source


def test_check_reports_a_changed_a_missing_and_an_extra_file(tmp_path: Path) -> None:
    source, rel, sol = small_source(tmp_path), tmp_path / "assignments", tmp_path / "solutions"
    release.generate(source, rel, sol)
    assert release.check(source, rel, sol) == []
    with open(rel / "m.py", "a", encoding="utf-8") as f:
        f.write("# edited by hand\n")
    (sol / "helper.py").unlink()
    (sol / "tests" / "notes.txt").write_text("stray\n", encoding="utf-8")
    diffs = release.check(source, rel, sol)
    assert diffs == ["assignments: changed: m.py", "solutions: extra: tests/notes.txt", "solutions: missing: helper.py"]


def test_release_command_exit_codes(tmp_path: Path) -> None:
    source = small_source(tmp_path)
    dirs = ["--source", str(source), "--release-dir", str(tmp_path / "a"), "--solutions-dir", str(tmp_path / "s")]

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "autograder", "release", *args, *dirs], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)

    stale = command("--check")
    assert stale.returncode == 1 and "missing tree" in stale.stdout and "make release" in stale.stderr
    assert command().returncode == 0
    assert (tmp_path / "a" / "m.py").read_text(encoding="utf-8") == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert (tmp_path / "s" / "tests" / "test_m.py").read_text(encoding="utf-8") == "H = 1\n"
    assert command("--check").returncode == 0
    (source / "m.py").write_text("### END SOLUTION\n", encoding="utf-8")
    broken = command()
    assert broken.returncode == 2 and "m.py:1" in broken.stderr
