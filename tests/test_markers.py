"""nbgrader's marker semantics applied to .py files (autograder.authoring.markers) and the release's safety."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring import release
from autograder.authoring.markers import MarkerError, has_markers, release_text, solution_text

SOURCE = """def f(x):
    \"\"\"Docstring stays.\"\"\"
    y = 1
    ### BEGIN SOLUTION
    if x:
        return x + y
    return y
    ### END SOLUTION


class K:
    def g(self):
            ### BEGIN SOLUTION
            return 2
            ### END SOLUTION

### BEGIN HIDDEN TESTS
def test_secret():
    assert f(1) == 2
### END HIDDEN TESTS
def test_public():
    assert f(0) == 1
"""


def test_release_replaces_solutions_by_the_stub_at_the_begin_lines_indentation() -> None:
    out = release_text(SOURCE, "m.py")
    assert out.split("\n")[:5] == [
        "def f(x):",
        '    """Docstring stays."""',
        "    y = 1",
        "    # YOUR CODE HERE",
        "    raise NotImplementedError()",
    ]
    assert "            # YOUR CODE HERE\n            raise NotImplementedError()\n" in out
    assert "return x + y" not in out and "return 2" not in out
    assert not has_markers(out)


def test_release_removes_hidden_tests_and_keeps_public_ones() -> None:
    out = release_text(SOURCE, "m.py")
    assert "test_secret" not in out and "f(1) == 2" not in out
    assert out.endswith("def test_public():\n    assert f(0) == 1\n")


def test_solutions_keep_code_and_hidden_tests_without_markers() -> None:
    out = solution_text(SOURCE, "m.py")
    assert not has_markers(out)
    expected = "\n".join(line for line in SOURCE.split("\n") if "### " not in line)
    assert out == expected
    namespace: dict = {}
    exec(compile(out, "m.py", "exec"), namespace)  # the solution is runnable code
    assert namespace["f"](3) == 4 and namespace["K"]().g() == 2
    namespace["test_secret"]()


def test_text_without_markers_is_unchanged() -> None:
    text = "a = 1\n# BEGIN SOLUTION without the hashes is plain text\n"
    assert release_text(text) == solution_text(text) == text


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("x\n### BEGIN SOLUTION\na\n### BEGIN SOLUTION\nb\n### END SOLUTION\n", 4, "nested"),
        ("x\ny\n### BEGIN SOLUTION\na\n", 3, "no matching"),
        ("x\n### END SOLUTION\n", 2, "without a matching"),
        ("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n", 2, "nested"),
        ("a\n### BEGIN HIDDEN TESTS\n", 2, "no matching"),
        ("### END HIDDEN TESTS\n", 1, "without a matching"),
    ],
)
@pytest.mark.parametrize("transform", [release_text, solution_text])
def test_bad_markers_raise_marker_error_naming_file_and_line(text: str, line: int, words: str, transform) -> None:
    with pytest.raises(MarkerError, match=rf"^broken\.py:{line}: .*{words}"):
        transform(text, "broken.py")


def tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_marker_error_leaves_existing_trees_untouched(tmp_path: Path) -> None:
    source, rel, sol = tmp_path / "source", tmp_path / "assignments", tmp_path / "solutions"
    source.mkdir()
    (source / "good.py").write_text(SOURCE, encoding="utf-8")
    (source / "data.bin").write_bytes(b"\x00\x01binary")
    release.generate(source, rel, sol)
    before = (tree(rel), tree(sol))
    assert before[0]["data.bin"] == before[1]["data.bin"] == b"\x00\x01binary"
    (source / "good.py").write_text(SOURCE + "changed = True\n", encoding="utf-8")
    (source / "z_broken.py").write_text("ok = 1\n### BEGIN SOLUTION\n", encoding="utf-8")
    with pytest.raises(MarkerError, match=r"z_broken\.py:2"):
        release.generate(source, rel, sol)
    assert (tree(rel), tree(sol)) == before


def test_markers_in_a_non_python_text_file_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "README.md").write_text("### BEGIN SOLUTION\nsecret\n### END SOLUTION\n", encoding="utf-8")
    with pytest.raises(ValueError, match="README.md"):
        release.generate(source, tmp_path / "a", tmp_path / "s")
    assert not (tmp_path / "a").exists() and not (tmp_path / "s").exists()
