"""All student-facing wording of the feedback that grade.py assembles, in one place.

The checks raise structured failures and :mod:`autograder.engine.localize` returns structured facts;
this module turns them into sentences. The catalogue's sentences stay next to their variants in
the pack's mistakes catalogue; the page layout is ``templates/feedback.md.j2``.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # facts come from localization, which the student CI never runs nor ships
    from autograder.engine.localize import Fact

_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _others() -> str:
    """The examples a fact is verified on, drawn independently of the failing one (localize.INDEPENDENT)."""
    from autograder.engine.localize import INDEPENDENT

    return f"{_NUMBERS.get(INDEPENDENT, str(INDEPENDENT))} other inputs"

GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}
FACTORS = {"0": "zero", "-1": "the expected value with the sign flipped (times -1)",
           "1/N": "1/N times the expected value (a mean over the batch where the contract asks for a sum)",
           "1/T": "1/T times the expected value (a mean over time where the contract asks for a sum)",
           "1/(N*T)": "1/(N·T) times the expected value (a mean where the contract asks for a sum)",
           "2": "twice the expected value (a term counted twice)"}
SIZE_NAMES = {"N": "the batch size N", "T": "the number of time steps T", "D": "the input width D",
              "H": "the hidden width H", "L": "the number of layers L"}


def names(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (each in backticks)."""
    quoted = [f"`{n}`" for n in items]
    if not quoted:
        return ""
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _is(outputs: Sequence[str]) -> str:
    return "is" if len(outputs) == 1 else "are"


def gate_block(gate: str) -> str:
    k = list(GATE_NAMES).index(gate)  # GATE_NAMES lists the fused blocks in order
    lo = "0" if k == 0 else ("H" if k == 1 else f"{k}H")
    return f"the {GATE_NAMES[gate]} ({lo}:{'H' if k == 0 else f'{k + 1}H'})"


def _steps(fact: Fact) -> str:
    when, step = fact.get("when"), fact.get("step")
    if when == "every":
        return "at every time step"
    if when == "first":
        return "only at t = 0 (the first step: check what your loop does for t = 0)"
    if when == "last":
        return "only at the last time step t = T-1"
    if when == "from":
        return f"from step t = {step} on (steps before it are right)"
    if when == "until":
        return f"at steps t = 0 to {step} only (later steps are right)"
    return "only at the steps t = " + ", ".join(str(s) for s in fact.get("steps", ()))


def intermediate_label(label: str) -> str:
    """``next_c of step_forward at every step`` -> a readable phrase."""
    value, _, rest = label.partition(" of ")
    if " in call " in rest:
        where, _, k = rest.partition(" in call ")
        return f"the `{value}` of call {k} of the reference's `{where}`"
    where, _, when = rest.partition(" at ")
    if not when:
        return f"the `{value}` computed by the reference's `{where}` on the way"
    if when.startswith("every step"):
        order = ", reversed in time" if "reverse" in when else ""
        return f"the `{value}` of the reference's `{where}` at every time step (stacked along axis 1{order})"
    return f"the `{value}` of the reference's `{where}` at {when.replace('step ', 'step t = ')}"


def fact_record(fact: Fact) -> Dict[str, Any]:
    """A fact as results.json's extra_data holds it: its data and the sentence the feedback says."""
    return {**fact.as_dict(), "sentence": fact_sentence(fact)}


def fact_sentence(fact: Fact) -> str:
    """One sentence for one verified fact."""
    o, k = fact.outputs, fact.kind
    what = names(o)
    if k == "outputs":
        right = fact.get("right", ())
        if not right:
            return f"Every output is wrong ({what})."
        return f"{names(right)} {_is(right)} right; {what} {_is(o)} wrong."
    if k == "gates":
        gates = fact.get("gates", ())
        blocks = " and ".join(gate_block(g) for g in gates)
        return (f"{what} {_is(o)} wrong only in the block of {blocks} (the columns of a weight, the entries of "
                f"a bias); the other gate blocks are right.")
    if k == "steps":
        return f"{what} {_is(o)} wrong {_steps(fact)}."
    if k == "shifted":
        return (f"{what} {_is(o)} shifted by one step: your value at step t is the expected value at step "
                f"t{'-' if fact.get('by') == 1 else '+'}1.")
    if k == "reversed":
        return f"{what} {_is(o)} the expected value reversed in time (step t holds step T-1-t)."
    if k == "halves":
        which = ("first half, the forward direction (`[..., :H]`)" if fact.get("half") == "first"
                 else "second half, the backward direction (`[..., H:]`)")
        return f"{what} {_is(o)} wrong only in the {which}; the other half is right."
    if k == "halves_swapped":
        return (f"{what} {_is(o)} the expected value with its two halves swapped: the forward direction belongs in "
                f"`[..., :H]` and the backward direction in `[..., H:]`.")
    if k == "layers_reversed":
        return f"{what} {_is(o)} the expected per-layer values in the other order: the list must start with layer 0."
    if k == "scale":
        return f"{what} {_is(o)} {FACTORS.get(fact.get('factor'), fact.get('factor'))}."
    if k == "transpose":
        return f"{what} {_is(o)} the transpose of the expected value."
    if k == "other_output":
        return f"{what} {_is(o)} the expected value of `{fact.get('other')}`: two outputs are mixed up."
    if k == "changed_input":
        from autograder.engine import counterfactual

        change = counterfactual.from_detail(dict(fact.detail))
        hint = {"zero": f": is `{change.input}` used?", "negated": f": check the sign of the term with `{change.input}`."}
        return f"{what} {_is(o)} what the reference gives {counterfactual.describe(change)}{hint.get(change.kind, '.')}"
    if k == "squared":
        return f"{what} {_is(o)} the square of the expected value: is a square root missing?"
    if k == "h_follows_c":
        return ("Your `next_h` equals o ⊙ tanh(your `next_c`), but `next_c` is wrong: the mistake is in how the cell "
                "state is computed (the gates i, f, g, or c = f ⊙ c_prev + i ⊙ g), not in `next_h`.")
    if k == "one_da":
        return ("All five gradients are consistent with one and the same ∂L/∂a (dx = da Wxᵀ, dprev_h = da Whᵀ, "
                "dWx = xᵀ da, dWh = h_prevᵀ da, db = Σ da), which is wrong: look at the tanh derivative that gives da.")
    if k == "missing_tanh":
        return f"tanh of your {what} is the expected value: {what} {_is(o)} missing its tanh (you return the pre-activation)."
    if k == "intermediate":
        return f"{what} {_is(o)} equal to {intermediate_label(fact.get('value'))}, not the expected value."
    if k == "plus_intermediate":
        sign = "plus" if fact.get("sign") == "+" else "minus"
        return f"{what} {_is(o)} the expected value {sign} {intermediate_label(fact.get('value'))}."
    if k == "clip_scaled":
        return ("The gradients were scaled although their total norm is not above max_norm: "
                "below the threshold they must be returned unchanged.")
    if k == "clip_not_scaled":
        return "The gradients were returned unscaled although their total norm is above max_norm."
    if k == "raised":
        return (f"The error is raised in `{fact.function}`, line {fact.get('line')} of {fact.get('file')}: "
                f"`{fact.get('code')}` raises {fact.get('type')}, on {_others()} too.")
    if k == "contract":
        problem = fact.get("problem", "")
        if problem.endswith("got NoneType"):
            return (f"`{fact.function}` returns None, on {_others()} too: its `return` statement is missing "
                    f"or never reached.")
        return f"On {_others()} too, the value returned breaks the contract, before any number is compared: {problem}."
    if k == "property":
        return f"The same on {_others()}: {fact.get('message')}"
    if k == "size_one":
        size = fact.get("size")
        return (f"On {_others()} it is wrong with {size} = 1 and right with a larger {size} (the same inputs "
                f"otherwise): look at what your code does when {SIZE_NAMES.get(size, size)} is 1.")
    if k == "size_from":
        size, value, tried = fact.get("size", "T"), fact.get("value"), fact.get("tried")
        right = f"{size} = 1" if value == 2 else f"{size} = 1 to {value - 1}"
        return (f"On {_others()} it is right with {right} and wrong from {size} = {value} on (tried up to "
                f"{size} = {tried}, the same inputs otherwise).")
    if k == "equal_sizes":
        a, b = fact.get("sizes")
        return (f"On {_others()} it is wrong, and right on the same inputs with {SIZE_NAMES.get(b, b)} made "
                f"equal to {SIZE_NAMES.get(a, a)}: look at where your code uses {a} and {b}.")
    if k == "scaled":
        return (f"On {_others()} it is right, and wrong on the same inputs scaled by {fact.get('scale'):g} "
                f"(large pre-activations, where tanh and the sigmoid saturate).")
    return f"{what}: {k}."


# ---------------------------------------------------------------- a failed test

LIKELY = "Likely mistake: "
SAME_INPUT = "Failing input: the same as in **{test}** above."
SAME_FAILURE = "Fails the same way as **{test}** above."


def array_size(shape: Sequence[int]) -> str:
    """``2×3``; ``of length 3`` for one axis; ``a scalar`` for none."""
    if not shape:
        return "a scalar"
    return f"of length {shape[0]}" if len(shape) == 1 else "×".join(str(n) for n in shape)


def input_sizes(sizes: Sequence[Tuple[str, int]], arrays: Mapping[str, Mapping[str, Sequence[int]]]) -> str:
    """The sizes of a failing input, as its header names them: the named sizes its function's inputs
    are written in (``N=2, D=3, H=4``; spec.input_sizes), then, for an input shaped by its arrays
    (a dict of gradients), the shape of each array (``grads with Wx 3×4, Wh 4×4 and b of length 4``)."""
    parts = [f"{k}={v}" for k, v in sizes]
    for name, shapes in arrays.items():
        each = [f"{key} {array_size(shape)}" for key, shape in shapes.items()]
        listed = each[0] if len(each) == 1 else ", ".join(each[:-1]) + " and " + each[-1]
        parts.append(f"{name} with {listed}" if each else f"{name} empty")
    return ", ".join(parts)


def _sizes_and_options(sizes: str, options: str) -> str:
    return f"{sizes}{options}" if sizes else options.removeprefix(", ")


def input_header(sizes: str, options: str, scale: float) -> str:
    return f"Smallest failing input found ({_sizes_and_options(sizes, options)}, values scaled by {scale:g}):"


def sizes_only(sizes: str, options: str) -> str:
    return f"Failing input sizes: {_sizes_and_options(sizes, options)}"


def zero_grads_option() -> str:
    return ", every gradient array zero"


def likely(sentence: str) -> str:
    return f"{LIKELY}{sentence}"


def failure_text(message: str, header: Optional[str], dump: Optional[str], facts: List[Dict[str, Any]],
                 mistake: Optional[str]) -> str:
    """The plain-text output of a failed test (Gradescope shows it as is)."""
    lines = [message]
    if header:
        lines.append(header)
    if dump:
        lines.extend("    " + line for line in dump.splitlines())
    lines.extend(f"- {f['sentence']}" for f in facts)
    if mistake:
        lines.append(likely(mistake))
    return "\n".join(lines)


# ---------------------------------------------------------------- the page around the failed tests

NOTE_PREFIX = "Note: "  # how a dependency note (hidden_tests: judged where what it depends on is right) starts
PRINTED = "Your code printed {count} characters; the first ones:"
_PRINTED_LINE = re.compile("^" + re.escape(PRINTED).replace(re.escape("{count}"), r"\d+") + "$", re.M)


def printed_output(count: int, shown: str) -> str:
    """The results' output line about the student's prints, and the first of them."""
    return f"{PRINTED.format(count=count)}\n{shown}"


def split_printed(output: str) -> Tuple[str, Optional[str], str]:
    """A results' output as (what comes before the student's prints, the line that introduces them or
    None, the prints): the prints come last (grade._summary, student_ci)."""
    found = _PRINTED_LINE.search(output)
    if found is None:
        return output, None, ""
    return output[:found.start()].rstrip("\n"), found.group(0), output[found.end():].removeprefix("\n")


def _on(tests: Sequence[str]) -> str:
    return "on " + ", ".join(f"*{t}*" for t in tests)


def dependency_note(note: str, tests: Optional[Sequence[str]] = None) -> str:
    """A note under a function's heading on how it was judged (``note``: Markdown prose, escaped), about
    the tests named (None: about each of its tests with a note)."""
    return f"**Note:** {note}" if not tests else f"**Note** ({_on(tests)}): {note}"


def dependency_line(note: str, tests: Optional[Sequence[str]] = None) -> str:
    """The same for a function with full marks, in the compact list at the end of the page."""
    return note if not tests else f"{_on(tests)}: {note}"


def check_mark(ok: Optional[bool]) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def needs_values(function: str, required_tests: Sequence[str], evidence: bool) -> str:
    """Why a property test earns nothing while the tests it rests on fail (hidden_tests.requires())."""
    tests = " or ".join(f'"{function}: {t}"' for t in required_tests)
    if evidence:
        return (f"not awarded: this test checks a property of working code, so it counts only when {tests} "
                f"passes or {function} is right on some of its values examples (it was right on none whose "
                f"expected outputs are not all zero)")
    return f"not awarded: this test counts only when {tests} passes, which it does not"


def not_judged_here(fix: str, what: str = "") -> str:
    """A test the student CI cannot judge: the real grade needs the reference at inputs that the student's
    own (wrong) code determines, which the CI does not have."""
    why = f" ({what})" if what else ""
    return (f"not judged here: fix {fix} first. The real grade judges this test with the reference at inputs "
            f"that your {fix} determines{why}; this formative check has answers only for a correct {fix}, so "
            f"these points are shown as a range.")


def not_judged_requires(function: str, required_tests: Sequence[str]) -> str:
    """A property test whose points rest on a test the student CI could not judge."""
    tests = " or ".join(f'"{function}: {t}"' for t in required_tests)
    return f"not judged here: this test counts only when {tests} passes, which could not be judged here"


def not_judged_kept(function: str, dependency: str, how_often: str, problem: str) -> str:
    """A test that another function's mistake keeps from judging ``function``, which computes: kept."""
    return (f"Not judged, and not charged: your {dependency} is wrong on {how_often} ({problem}), so this test "
            f"could not judge {function} through it. The point counts because {function} computes (it is right on "
            f"its values examples); {dependency}'s own tests charge its mistake.")


def own_mistake_kept(function: str, problem: str) -> str:
    """A test that the function's own mistake, judged by its other tests, keeps from judging: kept."""
    return (f"Not judged, and not charged: {problem} on every input tried, and this test counts only where "
            f"it is right. The points count because {function} computes (it is right on some of its values "
            f"examples); the tests that judge that mistake charge it.")


def judged_where_right(problem: str, function: str, dependencies: Sequence[str], set_aside: int) -> str:
    """How a function is judged while what it depends on is wrong on some of its inputs."""
    listed = " and ".join(dependencies) if len(dependencies) < 3 else ", ".join(dependencies[:-1]) + " and " + dependencies[-1]
    return (f"Note: {problem}; {function} is judged on inputs where your {listed} {_is(dependencies)} right "
            f"({set_aside} input(s) set aside).")


# ---------------------------------------------------------------- a submission that could not be graded


def not_graded_feedback(problem: str) -> str:
    """The feedback (Markdown) of a submission that could not be graded at all, e.g. misnamed files:
    ``problem`` is grade-all's reason, shown verbatim in a code block (it names the student's files)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", problem)), default=0))
    return ("# Feedback: not graded\n\n"
            "Your submission could not be graded, so it counts as 0 points until one that can be graded is. "
            "The reason:\n\n"
            f"{fence}\n{problem}\n{fence}\n")
