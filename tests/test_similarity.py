"""``python -m autograder similarity``: planted copies rank above independently written pairs.

The class: every student of ``examples/submissions``, the skeleton a second time, bad input
(binary, empty, a symbolic link), and two planted copies:

- ``planted_disguise``: ``written_differently`` with its local names renamed, comments and
  docstrings removed and functions reordered, done with ``ast`` (and the result still computes
  the same);
- ``planted_public``: a lightly edited copy (comments dropped, a few names changed, blank lines
  added, tokenize) of a "public" solution given with ``--against``.

Which pairs are *independently written*: most example students are one-edit mutations of the
reference (tools/make_examples.py), so they are copies of each other and of the reference by
construction. Submissions are grouped in FAMILIES of common origin; a pair is independent when its
two sides belong to different families. The public solution is the pair of hand-written variants
in tests/grade_data (written separately from examples/submissions/written_differently).
"""
from __future__ import annotations

import argparse
import ast
import csv
import io
import os
import shutil
import subprocess
import tempfile
import tokenize
from pathlib import Path
from typing import Dict, List, Set

import numpy as np
import pytest
from conftest import load_tree

from autograder import cli
from autograder.cli import similarity as command
from autograder.packs.rnn_lstm import RELEASE_DIR, SOLUTIONS_DIR
from autograder.quality.mutation import unparse
from autograder.quality.similarity import FLOOR, Document, boilerplate_hashes, compare, fingerprint, measure, skeleton_text

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
GRADE_DATA = REPO / "tests" / "grade_data"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")
CONTRACT = {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "lstm_step_forward",
            "lstm_step_backward", "lstm_forward", "lstm_backward", "stacked_forward", "stacked_backward",
            "bidirectional_forward", "bidirectional_backward", "hidden_grad_norms", "clip_grad_norm"}
# Both planted pairs must beat the most similar independent pair by at least this much.
MARGIN = 0.45
MUTANTS = ("perfect", "rnn_step_tanh_twice", "bptt_no_carry", "bptt_truncation_from_end", "lstm_gate_order_ifog",
           "lstm_dprev_c_missing_f", "bidirectional_not_realigned", "stacked_grads_reversed", "clip_in_place",
           "rnn_forward_ignores_h0")
FAMILIES: Dict[str, Set[str]] = {
    "reference": {*MUTANTS, "known:rnn_lstm"},
    "written_differently": {"written_differently", "planted_disguise"},
    "public": {"known:public_solution", "known:written_differently_rnn.py", "planted_public"},
    "hostile": {"hostile"},
}
PLANTED = {("planted_disguise", "written_differently"), ("planted_public", "known:public_solution")}


# --------------------------------------------------------------------------- disguises


class _Rename(ast.NodeTransformer):
    """Rename every local name, helper function and helper parameter; keep the contract's names."""

    def __init__(self, mapping: Dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.mapping.get(node.arg, node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self.mapping.get(node.name, node.name)
        self.generic_visit(node)
        return node


def _names_to_rename(trees: List[ast.Module]) -> Dict[str, str]:
    kept: Set[str] = set(CONTRACT)
    stored: Set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in CONTRACT:
                kept.update(a.arg for a in node.args.args + node.args.kwonlyargs)  # graders may pass them by name
            elif isinstance(node, ast.FunctionDef):
                stored.add(node.name)
                stored.update(a.arg for a in node.args.args)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                kept.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {name: f"q{index}_{name[::-1]}" for index, name in enumerate(sorted(stored - kept))}


def _strip_docstrings(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]


def disguise(folder: Path, into: Path) -> Path:
    """Rename identifiers, drop comments and docstrings, reverse the order of functions (ast)."""
    trees = {name: ast.parse((folder / name).read_text(encoding="utf-8")) for name in MODULES}
    rename = _Rename(_names_to_rename(list(trees.values())))
    into.mkdir(parents=True)
    for name, tree in trees.items():
        _strip_docstrings(tree)
        tree = rename.visit(tree)
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        others = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
        tree.body = others + functions[::-1]
        (into / name).write_text(unparse(ast.fix_missing_locations(tree)) + "\n", encoding="utf-8")  # no comments
    return into


def light_edit(source: str, renames: Dict[str, str], keep_comments: bool = False, blank_before_def: bool = True) -> str:
    """Drop comments, rename a few names, add a blank line before every def (tokenize).

    Edits are made in place at the tokens' positions, not by ``tokenize.untokenize``, whose spacing
    differs between Pythons (3.12 tokenizes inside f-strings, and untokenize then spaces them out);
    names inside f-strings are left alone for the same reason. The disguise is the same text on
    every claimed Python.
    """
    lines = source.splitlines(keepends=True)
    edits = []
    in_fstring = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        kind = tokenize.tok_name[tok.type]
        in_fstring += (kind == "FSTRING_START") - (kind == "FSTRING_END")
        if tok.type == tokenize.COMMENT and not keep_comments:
            edits.append((tok.start, tok.end, ""))
        elif tok.type == tokenize.NAME and tok.string in renames and not in_fstring:
            edits.append((tok.start, tok.end, renames[tok.string]))
    for (row, start), (_, end), replacement in reversed(edits):  # one line each; later edits first
        lines[row - 1] = lines[row - 1][:start] + replacement + lines[row - 1][end:]
    text = "".join(lines)
    return text.replace("\ndef ", "\n\ndef ") if blank_before_def else text


# --------------------------------------------------------------------------- the class


def main(argv: List[str]) -> int:
    """``python -m autograder similarity ...`` through the command module alone (not the grader's imports)."""
    assert argv[0] == "similarity" and "similarity" in cli.COMMANDS
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv[1:]))


def build_class(root: Path) -> Dict[str, Path]:
    """Write the class into root/class, the known solutions into root/known; returns the paths."""
    klass, known = root / "class", root / "known"
    shutil.copytree(EXAMPLES, klass)
    again = klass / "skeleton_again" / "rnn_lstm"  # nbgrader's layout
    again.mkdir(parents=True)
    for name in MODULES:
        shutil.copy(RELEASE_DIR / name, again / name)
    disguise(EXAMPLES / "written_differently", klass / "planted_disguise" / "rnn_lstm")

    public = known / "public_solution"
    public.mkdir(parents=True)
    shutil.copy(GRADE_DATA / "written_differently_rnn.py", public / "rnn_layers.py")
    shutil.copy(GRADE_DATA / "written_differently_lstm.py", public / "lstm_layers.py")
    planted = klass / "planted_public"
    planted.mkdir()
    for name in ("rnn_layers.py", "lstm_layers.py"):
        edited = light_edit((public / name).read_text(encoding="utf-8"),
                            {"cache": "stash", "dnext_h": "grad_h", "gates": "g_dict", "out": "result"})
        (planted / name).write_text(edited, encoding="utf-8")
    for name in ("deep_layers.py", "gradient_flow.py"):  # not done: the skeleton as handed out
        shutil.copy(RELEASE_DIR / name, planted / name)

    (klass / "binary_file").mkdir()
    (klass / "binary_file" / "rnn_layers.py").write_bytes(b"\x7fELF\x02\x01\x01\0\0\0" + bytes(range(256)))
    (klass / "empty_files").mkdir()
    for name in MODULES:
        (klass / "empty_files" / name).write_text("\n\n", encoding="utf-8")
    (klass / "symlinked").mkdir()
    os.symlink(SOLUTIONS_DIR / "rnn_layers.py", klass / "symlinked" / "rnn_layers.py")
    (klass / "not_utf8").mkdir()
    (klass / "not_utf8" / "rnn_layers.py").write_bytes("# caf\u00e9\nimport numpy as np\n".encode("latin-1"))
    return {"class": klass, "public": public, "bare": GRADE_DATA / "written_differently_rnn.py"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    root = tmp_path_factory.mktemp("similarity")
    paths = build_class(root)
    out = root / "out"
    code = main(["similarity", str(paths["class"]), "--out", str(out), "--jobs", "2",
                 "--against", str(paths["public"]), "--against", str(SOLUTIONS_DIR), "--against", str(paths["bare"])])
    with open(out / "similarity.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"code": code, "out": out, "rows": rows, "class": paths["class"],
            "html": (out / "similarity.html").read_text(encoding="utf-8")}


def _family(student: str) -> str:
    return next((name for name, members in FAMILIES.items() if student in members), student)


def _score(row: Dict[str, str]) -> float:
    return max(float(row["similarity_a"]), float(row["similarity_b"]))


# --------------------------------------------------------------------------- tests


def test_disguised_copy_still_computes_the_same(tmp_path: Path) -> None:
    copy = disguise(EXAMPLES / "written_differently", tmp_path / "copy")
    original, disguised = load_tree(EXAMPLES / "written_differently", ["rnn_layers"]), load_tree(copy, ["rnn_layers"])
    rng = np.random.default_rng(0)
    x, h0, Wx, Wh, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5)), rng.normal(size=(3, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)
    np.testing.assert_array_equal(original.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)[0],
                                  disguised.rnn_layers.rnn_forward(x, h0, Wx, Wh, b)[0])
    text = (copy / "rnn_layers.py").read_text()
    assert "#" not in text and '"""' not in text and "hs" not in text.split()  # really renamed and stripped


def test_planted_pairs_rank_above_every_independent_pair_by_the_margin(run: Dict[str, object]) -> None:
    assert run["code"] == 0
    rows: List[Dict[str, str]] = run["rows"]  # type: ignore[assignment]
    scores = {(r["id_a"], r["id_b"]): _score(r) for r in rows}
    planted = {pair: scores.get(pair, 0.0) for pair in PLANTED}
    independent = {pair: s for pair, s in scores.items() if _family(pair[0]) != _family(pair[1])}
    top_independent = max(independent.values(), default=0.0)
    assert min(planted.values()) - top_independent >= MARGIN, (planted, sorted(independent.items(), key=lambda i: -i[1])[:5])
    ranks = {(r["id_a"], r["id_b"]): int(r["rank"]) for r in rows}
    assert all(ranks[p] < ranks[q] for p in PLANTED for q in independent)
    known_rows = {(r["id_a"], r["id_b"]): r["b_is_known_solution"] for r in rows}
    assert known_rows[("planted_public", "known:public_solution")] == "yes"
    assert known_rows[("planted_disguise", "written_differently")] == "no"


def test_mutants_of_the_reference_are_found_as_near_copies(run: Dict[str, object]) -> None:
    """The one-edit mutations of the reference are copies of it: each pairs with the known reference above 90%."""
    rows: List[Dict[str, str]] = run["rows"]  # type: ignore[assignment]
    with_reference = {r["id_a"]: _score(r) for r in rows if r["id_b"] == "known:rnn_lstm"}
    assert set(MUTANTS) <= set(with_reference) and min(with_reference[m] for m in MUTANTS) > 0.9


def test_skeleton_twice_and_known_solutions_together_are_never_pairs(run: Dict[str, object]) -> None:
    rows: List[Dict[str, str]] = run["rows"]  # type: ignore[assignment]
    ids = {r["id_a"] for r in rows} | {r["id_b"] for r in rows}
    assert "skeleton" not in ids and "skeleton_again" not in ids
    assert not any(r["id_a"].startswith("known:") for r in rows)  # a known solution is only ever side b
    assert all(_score(r) >= FLOOR for r in rows)
    assert "known:written_differently_rnn.py" in ids  # the bare .py file was compared


def test_bad_input_is_listed_not_fatal(run: Dict[str, object]) -> None:
    html: str = run["html"]  # type: ignore[assignment]
    for student, reason in [("binary_file", "binary file"), ("empty_files", "empty submission"),
                            ("symlinked", "symbolic link"), ("not_utf8", "not UTF-8"), ("misnamed_files", "no graded module")]:
        assert f"<strong>{student}</strong>: " in html and reason in html, student
    assert "never a verdict" in html.split("<h2", 1)[0]  # said at the top, before any pair


def _rename_tokens(source: str) -> str:
    return light_edit(source, _names_to_rename([ast.parse(source)]), keep_comments=True)


def _drop_comments_and_docstrings(source: str) -> str:
    lines = light_edit(source, {}, blank_before_def=False).splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None:
            first = node.body[0]
            lines[first.lineno - 1:first.end_lineno] = [""] * (first.end_lineno - first.lineno + 1)  # type: ignore[operator]
    return "\n".join(lines)


def _reorder_functions(source: str) -> str:
    tree = ast.parse(source)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    head = "\n".join(source.splitlines()[:functions[0].lineno - 1])
    return head + "\n\n" + "\n\n\n".join(ast.get_source_segment(source, f) or "" for f in functions[::-1]) + "\n"


def _reformat(source: str) -> str:
    return "\n".join(line.replace("    ", "  ") + "   " for line in source.splitlines()).replace(", ", " ,  ").replace(" = ", "=")


def test_robust_to_each_disguise_alone() -> None:
    """Renaming, dropping comments/docstrings, reformatting (>= 99%) and reordering (>= 85%) each alone keep a copy found."""
    boilerplate = boilerplate_hashes(skeleton_text())
    for name in MODULES:
        source = (SOLUTIONS_DIR / name).read_text(encoding="utf-8")
        original = fingerprint(Document("a", source), boilerplate)
        for disguised, least in ((_rename_tokens, 0.99), (_drop_comments_and_docstrings, 0.99), (_reformat, 0.99),
                                 (_reorder_functions, 0.85)):  # k-grams across a moved function's ends are lost
            variant = disguised(source)
            assert variant != source and ast.dump(ast.parse(variant)) is not None
            _, sim_a, sim_b, _, _ = compare(original, fingerprint(Document("b", variant), boilerplate))
            assert min(sim_a, sim_b) >= least, (name, disguised.__name__, sim_a, sim_b)
    independent = (EXAMPLES / "written_differently" / "rnn_layers.py").read_text(encoding="utf-8")
    reference = fingerprint(Document("a", (SOLUTIONS_DIR / "rnn_layers.py").read_text(encoding="utf-8")), boilerplate)
    assert max(compare(reference, fingerprint(Document("c", independent), boilerplate))[1:3]) < 0.5  # an independent one is not


def test_bad_arguments_exit_2_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similarity", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["similarity", str(EXAMPLES), "--out", str(tmp_path / "o"), "--against", str(tmp_path / "gone")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _chromium() -> str:
    return shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else "")


@pytest.mark.skipif(not _chromium(), reason="chromium is not installed (/usr/bin/chromium missing): the HTML report is not rendered")
def test_html_report_renders_in_headless_chromium(run: Dict[str, object]) -> None:
    page = Path(run["out"]) / "similarity.html"  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    rows: List[Dict[str, str]] = run["rows"]  # type: ignore[assignment]
    assert dom.count('<tr class="pair-row">') == len(rows) > 0
    assert 'id="not-a-verdict"' in dom and dom.index("not-a-verdict") < dom.index('id="pairs"')
    first = dom.split('id="pair-1"', 1)[1].split("</section>", 1)[0]
    assert first.count('<pre class="code">') == 2 and "<mark>" in first
    assert dom.count('<section class="pair"') == len(rows)
    disguised_rank = next(r["rank"] for r in rows if (r["id_a"], r["id_b"]) == ("planted_disguise", "written_differently"))
    view = dom.split(f'id="pair-{disguised_rank}"', 1)[1].split("</section>", 1)[0]
    assert "planted_disguise" in view and "written_differently" in view and view.count("<mark>") >= 3


def test_grade_all_similarity_adds_a_summary_section(run: Dict[str, object], tmp_path: Path) -> None:
    """grade-all --similarity: after grading, the report files and a section at the end of summary.md."""
    from autograder.cli import grade_all

    (tmp_path / "summary.md").write_text("# Class summary\n\nwritten by grade-all\n", encoding="utf-8")
    args = argparse.Namespace(submissions=run["class"], out=tmp_path, jobs=1, against=[SOLUTIONS_DIR])
    grade_all.add_similarity(args)
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# Class summary\n\nwritten by grade-all\n\n## Similarity\n")
    section = summary.split("## Similarity", 1)[1]
    assert "never a verdict" in section and "(known solution)" in section and "binary_file" in section
    assert (tmp_path / "similarity.csv").is_file() and (tmp_path / "similarity.html").is_file()


def test_grade_all_rejects_bad_similarity_arguments_before_grading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autograder.cli import grade_all

    parser = argparse.ArgumentParser()
    grade_all.add_arguments(parser)
    out = tmp_path / "out"
    assert grade_all.run(parser.parse_args([str(EXAMPLES), "--out", str(out), "--against", str(SOLUTIONS_DIR)])) == 2
    assert "--against needs --similarity" in capsys.readouterr().err
    assert grade_all.run(parser.parse_args([str(EXAMPLES), "--out", str(out), "--similarity", "--against", str(tmp_path / "gone")])) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert not out.exists()


def test_fast_measure_agrees_with_copydetect_compare_files() -> None:
    """measure() (numpy) gives copydetect's own numbers, on near-copies, independent pairs and the skeleton."""
    boilerplate = boilerplate_hashes(skeleton_text())
    folders = [EXAMPLES / name for name in ("perfect", "clip_in_place", "written_differently", "hostile", "skeleton")]
    prints = [fingerprint(Document(f.name, "\n".join((f / m).read_text(encoding="utf-8") for m in MODULES)), boilerplate)
              for f in folders]
    for first in prints:
        for second in prints:
            tokens, sim_a, sim_b, _, _ = compare(first, second)
            assert measure(first, second) == pytest.approx((tokens, sim_a, sim_b), abs=1e-12)


def test_matmul_spacing_and_docstrings_do_not_change_tokens() -> None:
    """``a@b`` (which pygments reads as a decorator) and ``a @ b`` give the same tokens; a docstring gives none."""
    from copydetect.utils import filter_code

    from autograder.quality.similarity import normalise

    tight = 'def f(x, W):\n    """Doc."""\n    return x@W@W\n'
    spaced = "def f(x, W):\n    return x @ W @ W  # no docstring\n"
    assert filter_code(normalise(tight)[0], "a.py")[0] == filter_code(normalise(spaced)[0], "a.py")[0]
    text, positions = normalise(tight)
    assert len(text) == len(positions) and "".join(tight[i] for i in positions).replace("@@", "@") == tight.replace('    """Doc."""', "")
