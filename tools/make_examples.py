"""Generate the example class in examples/submissions/ from the reference and the student release.

Most example students are the reference solutions (solutions/rnn_lstm) with one small, documented
patch each: a typical bug of one part of the assignment. Writing them as patches keeps them in step
with the reference without copying solution text by hand. Each generated student folder gets a
NOTES.md saying what was changed and what the grader should find.

Three students are written by hand and left alone by this script (see HAND_WRITTEN):
``written_differently`` (correct, in a very different style), ``hostile`` (tries to cheat and to
break the grader) and ``misnamed_files`` (cannot be graded: wrong file names).

    .venv/bin/python tools/make_examples.py            # rewrite the generated students
    .venv/bin/python tools/make_examples.py --check    # exit 1 if the committed ones are stale

tests/test_examples.py runs the check.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions" / "rnn_lstm"
RELEASE = REPO / "assignments" / "rnn_lstm"
OUT = REPO / "examples" / "submissions"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")
HAND_WRITTEN = ("written_differently", "hostile", "misnamed_files")


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``module``."""

    module: str
    old: str
    new: str


@dataclass(frozen=True)
class Example:
    """A generated student: ``base`` tree plus patches; ``bug`` and ``expect`` go into NOTES.md."""

    bug: str
    expect: str
    base: Path = SOLUTIONS
    patches: Tuple[Patch, ...] = field(default_factory=tuple)
    costs: Tuple[str, ...] = ()  # the functions holding the bug: each must lose points


EXAMPLES: Dict[str, Example] = {
    "perfect": Example("none: the reference solutions unchanged.", "100 / 100."),
    "skeleton": Example(
        "nothing implemented: the student release as handed out (every function raises NotImplementedError).",
        "0 / 100, every function failed with NotImplementedError.",
        base=RELEASE,
        costs=("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "lstm_step_forward",
               "lstm_step_backward", "lstm_forward", "lstm_backward", "stacked_forward", "stacked_backward",
               "bidirectional_forward", "bidirectional_backward", "hidden_grad_norms", "clip_grad_norm"),
    ),
    "rnn_step_tanh_twice": Example(
        "rnn_step_backward applies tanh to the cached output again: 1 - tanh(next_h)**2 instead of 1 - next_h**2.",
        "points lost in rnn_step_backward only: rnn_backward and the layers built on it keep their points (judged with the reference step backward); forward functions full.",
        patches=(Patch("rnn_layers.py", "da = dnext_h * (1.0 - next_h**2)", "da = dnext_h * (1.0 - np.tanh(next_h) ** 2)"),),
        costs=("rnn_step_backward",),
    ),
    "bptt_no_carry": Example(
        "rnn_backward forgets the gradient flowing back from h_{t+1}: each step only sees dh[:, t].",
        "points lost in rnn_backward; the step functions and rnn_forward full.",
        patches=(Patch("rnn_layers.py", "rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])"),),
        costs=("rnn_backward",),
    ),
    "bptt_truncation_from_end": Example(
        "truncated BPTT counts the chunks from the end of the sequence instead of from t = 0 "
        "(right only when T is a multiple of truncate).",
        "points lost in rnn_backward (truncation tests only); full BPTT right.",
        patches=(Patch("rnn_layers.py", "if t > 0 and t % chunk == 0:", "if t > 0 and (T - t) % chunk == 0:"),),
        costs=("rnn_backward",),
    ),
    "rnn_forward_ignores_h0": Example(
        "rnn_forward starts every sequence from zeros instead of h0; rnn_backward is correct.",
        "points lost in rnn_forward only: rnn_backward keeps full marks (it is judged on inputs with h0 = 0, where "
        "this rnn_forward is right, and its feedback names rnn_forward); stacked and bidirectional layers full.",
        patches=(Patch("rnn_layers.py", "    prev_h = h0\n", "    prev_h = np.zeros_like(h0)\n"),),
        costs=("rnn_forward",),
    ),
    "lstm_gate_order_ifog": Example(
        "the LSTM gate blocks are used in the order i, f, o, g instead of i, f, g, o (consistently in forward and backward).",
        "points lost in the two LSTM step functions, each of which reads the gate blocks in the wrong order (the "
        "backward is wrong on inputs where its forward is right: equal gate blocks); lstm_forward and lstm_backward, "
        "built on them, keep their points.",
        patches=(
            Patch("lstm_layers.py", "g = np.tanh(a[:, 2 * H : 3 * H])\n    o = sigmoid(a[:, 3 * H : 4 * H])",
                  "g = np.tanh(a[:, 3 * H : 4 * H])\n    o = sigmoid(a[:, 2 * H : 3 * H])"),
            Patch("lstm_layers.py", "dg * (1.0 - g**2), do * o * (1.0 - o)]", "do * o * (1.0 - o), dg * (1.0 - g**2)]"),
        ),
        costs=("lstm_step_forward", "lstm_step_backward"),
    ),
    "lstm_dprev_c_missing_f": Example(
        "lstm_step_backward passes the cell gradient back without the forget gate: dprev_c = dc instead of dc * f.",
        "points lost in lstm_step_backward (dprev_c); lstm_backward, built on it, keeps its points (judged with the "
        "reference step backward).",
        patches=(Patch("lstm_layers.py", "dprev_c = dc * f", "dprev_c = dc"),),
        costs=("lstm_step_backward",),
    ),
    "bidirectional_not_realigned": Example(
        "bidirectional_forward leaves the backward direction's states in reversed time order "
        "(h[:, t, H:] belongs to time T-1-t); the backward pass is consistent with that.",
        "points lost in bidirectional_forward only: bidirectional_backward, which agrees with that forward, is judged by "
        "what measures it alone and keeps its points (a mistake costs once); the stacked layers keep theirs.",
        patches=(
            Patch("deep_layers.py", "h = np.concatenate([h_f, h_b_reversed[:, ::-1]], axis=2)", "h = np.concatenate([h_f, h_b_reversed], axis=2)"),
            Patch("deep_layers.py", "backward(dh[:, ::-1, H:], cache_b)", "backward(dh[:, :, H:], cache_b)"),
        ),
        costs=("bidirectional_forward",),
    ),
    "stacked_grads_reversed": Example(
        "stacked_backward returns the per-layer gradients top layer first instead of layer 0 first.",
        "points lost in stacked_backward when there is more than one layer (shapes differ, or values do).",
        patches=(Patch("deep_layers.py", "return d, dh0s[::-1], grads[::-1]", "return d, dh0s[::-1], grads"),),
        costs=("stacked_backward",),
    ),
    "clip_in_place": Example(
        "clip_grad_norm scales the caller's arrays in place and returns them, and scales even when "
        "the norm is already below max_norm (a factor of max_norm / total_norm always).",
        "points lost in clip_grad_norm (values when below max_norm, and inputs modified).",
        patches=(
            Patch("gradient_flow.py", "scale = max_norm / total_norm if total_norm > max_norm else 1.0", "scale = max_norm / total_norm"),
            Patch("gradient_flow.py", "    clipped = {}\n    for name, g in grads.items():\n"
                  "        new = np.array(g, dtype=np.float64)  # a new array (a 0-d one stays an array: not g * scale)\n"
                  "        new *= scale\n        clipped[name] = new\n",
                  "    for g in grads.values():\n        g *= scale\n    clipped = dict(grads)\n"),
        ),
        costs=("clip_grad_norm",),
    ),
}


def apply(text: str, patch: Patch, where: str) -> str:
    count = text.count(patch.old)
    if count != 1:
        raise SystemExit(f"{where}: the patch text occurs {count} times in {patch.module} (expected once): {patch.old!r}")
    return text.replace(patch.old, patch.new)


GOLDEN = REPO / "tests" / "golden"  # each student's results.json as graded (tests/test_golden_results.py keeps them)
README = REPO / "examples" / "README.md"
TABLE = ("<!-- graded: made by tools/make_examples.py from tests/golden; do not edit -->", "<!-- end of graded -->")


def graded(name: str) -> str:
    """What the grader gives the student ``name``, read from its golden results: the score and where points
    are lost (the goldens are checked against real grading by tests/test_golden_results.py)."""
    path = GOLDEN / f"{name}.json"
    if not path.is_file():
        return "not graded yet (no tests/golden file)"
    results = json.loads(path.read_text(encoding="utf-8"))
    lost = {f: e["max_score"] - e["score"] for f, e in results["extra_data"].get("functions", {}).items()
            if e["max_score"] - e["score"] > 1e-9}
    where = ", ".join(f"`{f}` -{points:g}" for f, points in lost.items()) or "none"
    return f"{results['score']:g} / 100; points lost: {where}"


def notes(name: str, example: Example) -> str:
    lines = [f"# Example student `{name}`", "", f"Generated by tools/make_examples.py from `{example.base.relative_to(REPO)}`.", "",
             f"- Bug: {example.bug}", f"- Meant to show: {example.expect}",
             f"- Graded (tests/golden/{name}.json, what `make demo` gives): {graded(name)}"]
    if example.costs:
        lines.append(f"- Must lose points in: {', '.join(example.costs)}")
    for patch in example.patches:
        lines += ["", f"In `{patch.module}`:", "", "```diff"] + [f"- {l.strip()}" for l in patch.old.splitlines()] + [f"+ {l.strip()}" for l in patch.new.splitlines()] + ["```"]
    return "\n".join(lines) + "\n"


def write(out: Path) -> List[Path]:
    """Write every generated student into ``out``; returns the files written."""
    written = []
    for name, example in EXAMPLES.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        texts = {module: (example.base / module).read_text(encoding="utf-8") for module in MODULES}
        for patch in example.patches:
            texts[patch.module] = apply(texts[patch.module], patch, name)
        texts["NOTES.md"] = notes(name, example)
        for file_name, text in texts.items():
            (folder / file_name).write_text(text, encoding="utf-8")
            written.append(folder / file_name)
    return written


def readme(text: str) -> str:
    """examples/README.md with its table of grades made anew from the goldens (between the TABLE markers)."""
    start, end = TABLE
    if start not in text or end not in text:
        raise SystemExit(f"{README.relative_to(REPO)} lacks the markers {start!r} and {end!r}")
    students = sorted(p.stem for p in GOLDEN.glob("*.json"))
    rows = ["| student | graded (tests/golden) |", "|---|---|"] + [f"| `{s}` | {graded(s)} |" for s in students]
    return text[:text.index(start) + len(start)] + "\n" + "\n".join(rows) + "\n" + text[text.index(end):]


def stale(out: Path = OUT) -> List[str]:
    """Generated files that are missing or differ in ``out`` (empty when current), and the README's table."""
    with tempfile.TemporaryDirectory(prefix="examples-") as tmp:
        fresh = Path(tmp)
        found = [str(p.relative_to(fresh)) for p in write(fresh)
                 if not (out / p.relative_to(fresh)).is_file() or not filecmp.cmp(p, out / p.relative_to(fresh), shallow=False)]
    text = README.read_text(encoding="utf-8")
    if readme(text) != text:
        found.append("../README.md (its table of grades)")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if examples/submissions is stale")
    args = parser.parse_args()
    if args.check:
        problems = stale()
        for p in problems:
            print(f"stale: examples/submissions/{p}")
        if problems:
            print("run: .venv/bin/python tools/make_examples.py", file=sys.stderr)
        return 1 if problems else 0
    files = write(OUT)
    README.write_text(readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {len(files)} files for {len(EXAMPLES)} generated students in {OUT.relative_to(REPO)}, "
          f"and the table of grades in {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
