"""What a test of a function F may count on: F's dependencies, checked on every example.

Every mistake costs once, in the function that has it. A test of F counts an example only when
everything F depends on is right on that example:

- a backward function's forward: the student's forward, run in the same batch, must equal the
  reference forward on these inputs;
- a composite's graded parts (spec ``parts``): they are checked at the very calls the reference
  composite makes on this example (:func:`autograder.engine.reference.trace`), replayed on the student's
  parts in the same batch (a part's cache goes from the student's forward part to the student's
  backward part, as in the student's own code).

Dependencies are checked only when F fails an example (:meth:`Run.charge`): an example on which F is
right is evidence whatever its dependencies do, so a correct submission pays for no dependency check.
A failing example on which a dependency is wrong is **rejected**: Hypothesis draws another, and the
test's feedback says which dependency was wrong and that F is judged where it is right. When a dependency
is wrong on every example a test tries, F's :class:`Mode` escalates, once per function and in this
order, so F is still judged by what measures F alone:

1. ``serve``: a composite's parts are served by the grader. During F's calls the worker replaces
   them by proxies that ask the grader for the reference part (worker ``serve``): only the parts
   found wrong, since each served call is a round trip to the grader; the reference
   never enters the worker, and only F's own parts are served, only while F runs.
2. ``special``: a backward whose forward is wrong is judged on structured inputs on which its
   forward is right (zero initial states, zero biases, equal LSTM gate blocks:
   :attr:`autograder.engine.pack.Pack.specials`).
3. ``serve_forward`` on trial: a backward whose forward is wrong everywhere is given the reference
   forward's cache (the forward is served like a part). A backward that is right on it is right for
   a right forward, whatever its own forward computes, and its examples count. A backward that is
   wrong or raises on it proves nothing (its cache may be laid out differently from the
   reference's): the first such example ends the trial.
4. ``own``: it is right when its outputs equal the reference backward at the inputs, or the
   reference backward evaluated at the student's own forward outputs (RNN: a backward depends on its
   forward only through ``h`` and the inputs), or agree with central differences of the student's
   own forward, and those are not all zero (a constant forward proves nothing).
5. ``serve_forward`` for good, when the forward raises on every input (there are no outputs to
   judge by): the reference forward's cache, failures counting.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from autograder.engine import oracle, pack, reference
from autograder.engine.checks import CheckFailed, compare, failure, mismatch, modified, unpack
from autograder.engine.pack import function
from autograder.engine.spec import Function, Tol
from autograder.engine.strategies import Example, describe_special
from autograder.worker.client import Batch, CallOutcome, Failure, Handle, Ref, WorkerClient

# A dependency is "right" on an example only when it agrees with the reference far more closely than
# a graded test demands: a forward that is right to 1e-6 because tanh saturates can still feed its
# backward states that differ by more than the backward's own tolerance.
GATE_TOL = Tol(rtol=1e-9, atol=1e-12)


@dataclass(frozen=True)
class Mode:
    """How a function's examples are judged (see the module docstring)."""

    serve: Tuple[str, ...] = ()  # F's graded parts (names) served by the grader: the ones found wrong
    special: str = ""
    own: bool = False
    serve_forward: bool = False
    trial: bool = False  # serve_forward on trial: only a pass counts, a failure ends the trial
    # Dependencies checked on every example, not only after a failure: set once a dependency was found
    # wrong, since a pass on an input where a dependency is wrong may hide a bug of F that its other
    # inputs show (those are then set aside, and with them the evidence).
    strict: bool = False

    reason: str = ""  # the dependency problem that made the mode escalate (for the feedback)
    claims: Tuple[Tuple[str, str], ...] = ()  # (dependency, claim) its sentences make (Rejected.claim)

    def describe(self, fn: Function) -> str:
        """Sentences for the feedback, or "" for the ordinary mode."""
        said = []
        if self.reason:
            said.append(self.reason + ".")
        if self.serve:
            said.append(f"Your {', '.join(self.serve)} {'was' if len(self.serve) == 1 else 'were'} replaced by the "
                        f"reference while {fn.name} ran, so {fn.name} is tested on its own.")
        if self.special:
            said.append(f"{fn.name} is judged on inputs with {describe_special(self.special)}, where your "
                        f"{fn.forward} is right.")
        if self.serve_forward and self.trial:
            said.append(f"{fn.name} was given the reference {fn.forward}'s cache instead of yours, so it is "
                        f"judged on its own.")
        elif self.serve_forward:
            said.append(f"Your {fn.forward} fails on every input, so {fn.name} is given the reference "
                        f"{fn.forward}'s cache (what it saved for the backward pass) instead: it is judged where it can read that cache.")
        elif self.own:
            said.append(f"{fn.name} is judged by what measures it alone: it must equal the reference backward "
                        f"(at the inputs, or at what your {fn.forward} computed) or agree with central differences "
                        f"of your {fn.forward}.")
        return " ".join(said)


# The "dependency" of an example that proves nothing either way (every true gradient vanishes, or a
# special input zeroes an output): it is set aside without blaming anything and without escalating.
UNINFORMATIVE = ""
# The "dependency" of an example that ends a trial of the reference forward's cache (Mode.trial).
TRIAL = "<trial>"


@dataclass
class Rejected(Exception):
    """The example cannot count for F: ``dependency`` (a function name) is wrong on it.

    ``also`` names the other dependencies found wrong on the same example (a part first, then the
    forward built on it).
    """

    dependency: str
    problem: str
    example: Any = None
    also: Tuple[str, ...] = ()
    cache: bool = False  # the dependency is a forward whose outputs are right but whose cache is not
    # what the feedback claims of the dependency: "wrong" (its outputs, or it raises), "cache" (its cache),
    # "inplace" (it changes its inputs); the truth check (autograder.quality.truth) verifies the claim
    claim: str = "wrong"

    def __str__(self) -> str:
        return self.problem


def served_parts(parts: Sequence[str]) -> Tuple[str, ...]:
    """``module.function`` keys of graded parts (what the worker may serve while F runs)."""
    return tuple(f"{function(p).module}.{p}" for p in parts)


def parts_to_serve(fn: Function, wrong: Sequence[str], served: Sequence[str]) -> Tuple[str, ...]:
    """The graded parts of ``fn`` to serve next, for the dependencies found ``wrong``: the wrong parts,
    each forward part with its backward part when ``fn`` uses both (a served forward part keeps the
    student's own cache, which the student's backward part would read; the served backward part reads
    the reference's cache for the same arguments instead)."""
    found = [d for d in dict.fromkeys(wrong) if d in fn.parts and d not in served]
    found += [b.name for d in found for b in pack.current().functions if b.forward == d and b.name in fn.parts]
    return tuple(d for d in dict.fromkeys(found) if d not in served)


def cache_positions() -> Dict[str, int]:
    """``module.function`` -> the position of the cache it returns, for every graded forward function
    of the active pack (the worker keeps such a part's own cache, and remembers how it was made)."""
    return {f"{f.module}.{f.name}": f.cache_index for f in pack.current().functions if f.cache_index is not None}


def copied_parts(fn: Function) -> Tuple[str, ...]:
    """``module.function`` keys of every graded part ``fn`` is built from, at any depth: while ``fn``
    runs, the worker calls them on copies of their arrays (worker ``copies``), so a part that changes
    its inputs in place is charged in its own in-place test, never in the composite that only passed
    the arrays on (nor in what the composite computes with them afterwards)."""
    found: List[str] = []
    todo = list(fn.parts)
    while todo:
        name = todo.pop(0)
        if name not in found and name != fn.name:
            found.append(name)
            todo.extend(function(name).parts)
    return served_parts(found)


def escalate(mode: Mode, fn: Function, dependencies: Sequence[str], cell_kinds: Sequence[str],
             cache_wrong: bool = False) -> Optional[Mode]:
    """The next mode after every example was rejected for ``dependencies``; None when none is left.

    ``cache_wrong``: the forward's outputs were right but its cache was not (structured inputs cannot
    help): F goes straight to the reference forward's cache, on trial."""
    wrong_parts = parts_to_serve(fn, dependencies, mode.serve)
    if wrong_parts:  # serve only the parts found wrong: each served call is a round trip to the grader
        return dataclasses.replace(mode, serve=mode.serve + wrong_parts)
    if cache_wrong and fn.forward and not mode.serve_forward:
        return dataclasses.replace(mode, special="", own=False, serve_forward=True, trial=True)
    if mode.trial:  # the reference cache did not suit F: judge F by what measures it alone
        return dataclasses.replace(mode, serve_forward=False, trial=False, own=True)
    if not fn.forward or mode.serve_forward or fn.forward not in dependencies and not (mode.special or mode.own):
        return None
    if mode.own:  # the forward fails on every input (no outputs to judge by): serve the forward itself
        return dataclasses.replace(mode, own=False, serve_forward=True)
    active = pack.current()
    specials = [s for s in active.specials  # those whose every part applies to one of the cells graded
                if all(set(active.cell_specials.get(p, cell_kinds)) & set(cell_kinds) for p in s.split("+"))]
    position = specials.index(mode.special) + 1 if mode.special in specials else 0
    if position < len(specials):
        return dataclasses.replace(mode, special=specials[position])
    return dataclasses.replace(mode, special="", serve_forward=True, trial=True)


# ---------------------------------------------------------------- comparing structured values


def value_problem(student: Any, expected: Any, tol: Tol, name: str, skip: Optional[int] = None,
                  names: Sequence[str] = ()) -> Optional[str]:
    """Where a student's raw return value differs from the reference's (tuples, lists, dicts of arrays).

    ``skip`` is a tuple position not compared (a cache); ``names`` name the positions of a returned
    tuple (spec output names). Returns None when they agree.
    """
    if isinstance(expected, tuple):
        if not isinstance(student, tuple) or len(student) != len(expected):
            return f"{name} returned {type(student).__name__}, expected a tuple of {len(expected)}"
        for i, (s, e) in enumerate(zip(student, expected)):
            if i == skip:
                continue
            problem = value_problem(s, e, tol, names[i] if i < len(names) else f"{name}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(student, list) or len(student) != len(expected):
            return f"{name} returned {type(student).__name__}, expected a list of {len(expected)}"
        for i, (s, e) in enumerate(zip(student, expected)):
            problem = value_problem(s, e, tol, f"{name}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(student, dict) or set(student) != set(expected):
            return f"{name} returned {type(student).__name__}, expected a dict"
        for key in expected:
            problem = value_problem(student[key], expected[key], tol, f"{name}.{key}")
            if problem:
                return problem
        return None
    want = np.asarray(expected, dtype=np.float64)
    if isinstance(student, Handle) or not isinstance(student, (np.ndarray, float, int)) and not hasattr(student, "value"):
        return f"{name} is not an array"
    got = np.asarray(getattr(student, "value", student), dtype=np.float64)
    if got.shape != want.shape:
        return f"{name} has shape {got.shape}, expected {want.shape}"
    with np.errstate(all="ignore"):
        ok, err, _ = compare(name, got, want, tol)
    return None if ok else f"{name}: max abs error {err:.3g}"


# ---------------------------------------------------------------- one example


class Run:
    """One example of a test of F: F's calls and its dependency checks in one worker batch."""

    def __init__(self, client: WorkerClient, fn: Function, ex: Example, inputs: Dict[str, Any], mode: Mode) -> None:
        self.client, self.fn, self.ex, self.inputs, self.mode = client, fn, ex, inputs, mode
        self.batch = Batch(client)
        self.serve = served_parts(mode.serve)
        self.fwd = function(fn.forward) if fn.forward else None
        self.serve_forward = self.forward_key() if mode.serve_forward else ()
        self.forward_index: Optional[int] = None
        self.outcomes: List[CallOutcome] = []
        # whether a failure of F may be the forward's cache (False for checks that do not compare values)
        self.compares_values = True
        self.evidence: Optional[set] = None  # where a values test records that F was right (hidden_tests.judge)
        self._expected: Dict[Any, Dict[str, np.ndarray]] = {}

    # -------------------------------------------------------- calls
    def call_forward(self, inputs: Optional[Dict[str, Any]] = None, echo: bool = False,
                     serve: Optional[Sequence[str]] = None, batch: Optional[Batch] = None) -> int:
        """The student's forward (F itself for a forward function); its index in the batch.

        ``serve``: what the grader answers during the call (default: this mode's served parts and
        served forward)."""
        target = self.fwd or self.fn
        batch = batch or self.batch
        args, kwargs = reference.call_arguments(target, inputs if inputs is not None else self.inputs)
        opaque = [target.cache_index] if target.cache_index is not None else []
        batch.call(target.module, target.name, *args, opaque=opaque, echo=echo,
                   serve=list(self.serve + self.serve_forward) if serve is None else list(serve),
                   copies=copied_parts(target), caches=cache_positions(), **kwargs)
        return len(batch.calls) - 1

    def call_backward(self, forward_index: int, inputs: Optional[Dict[str, Any]] = None, echo: bool = False,
                      batch: Optional[Batch] = None) -> int:
        assert self.fwd is not None
        batch = batch or self.batch
        args, kwargs = reference.backward_arguments(self.fn, inputs if inputs is not None else self.inputs,
                                                    Ref(forward_index)[self.fwd.cache_index])
        batch.call(self.fn.module, self.fn.name, *args, echo=echo, serve=self.serve, copies=copied_parts(self.fn),
                   caches=cache_positions(), **kwargs)
        return len(batch.calls) - 1

    def forward_key(self) -> Tuple[str, ...]:
        """What to serve so that the forward's call returns the reference forward's result."""
        assert self.fwd is not None
        return (f"{self.fwd.module}.{self.fwd.name}",)

    def scenario(self, echo: bool = False) -> int:
        """F's scenario (forward, then backward for a backward function); the index of F's call."""
        self.forward_index = self.call_forward(echo=echo and self.fwd is None)
        if self.fwd is None:
            return self.forward_index
        return self.call_backward(self.forward_index, echo=echo)

    def charge(self, check: Callable[[], None]) -> None:
        """Run ``check`` (which raises CheckFailed when F is wrong on this example). A failure counts
        against F only when F's dependencies are right here; else :class:`Rejected` is raised.

        Dependencies are checked only after a failure (a correct submission pays for no dependency
        check), or first on every example in a ``strict`` mode.
        """
        if self.mode.strict and not self.mode.trial:  # on trial only a pass counts: nothing to set aside
            self.require_dependencies()
        try:
            check()
        except CheckFailed as exc:
            if self.mode.trial:
                raise Rejected(TRIAL, f"{self.fn.name} is wrong on the reference {self.fwd and self.fwd.name}'s "
                                      f"cache ({exc.output or exc.message.splitlines()[0]})", self.ex) from None
            if not self.mode.strict:
                self.require_dependencies()
            if self.compares_values:
                self.require_cache()
            raise

    def require_cache(self) -> None:
        """Raise :class:`Rejected` (``cache=True``) when F, wrong with its forward's cache, is right with
        the reference forward's cache on this example: the mistake lives in the forward's cache (the
        forward's own cache test charges it), not in F. Called only after F failed."""
        if self.fwd is None or self.mode.serve_forward:
            return
        batch = Batch(self.client)
        self.call_backward(self.call_forward(serve=self.serve + self.forward_key(), batch=batch), batch=batch)
        self.client.clear_handles()
        outcome = batch.run()[-1]
        if isinstance(outcome, Failure):
            return
        try:
            got = unpack(self.fn, outcome.value, self.ex.size, self.ex.cell)
        except CheckFailed:
            return
        with np.errstate(all="ignore"):
            if mismatch(got, self.expected(), self.fn.tol) is not None:
                return
        raise Rejected(self.fwd.name, f"the cache of your {self.fwd.name} is wrong on this input (your {self.fn.name} "
                                      f"is right with the reference {self.fwd.name}'s cache)", self.ex, cache=True,
                       claim="cache")

    def _replay_parts(self, batch: Batch) -> List["Replayed"]:
        """Add to ``batch`` the reference composite's part calls on this example, to be run on the
        student's parts; returns one :class:`Replayed` per call.

        Served parts are not replayed (they are the reference's while F runs); a cache that a served
        part made reaches the replayed parts as the reference made it."""
        if not self.fn.parts:
            return []
        _, calls = oracle.current().trace(self.fn, self.inputs)
        replayed: List[Replayed] = []
        producers: Dict[int, Tuple[int, int]] = {}  # id(reference cache) -> (index in replayed, cache position)
        for part, args, kwargs, result in calls:
            if part.name in self.mode.serve:
                continue
            # a cache the reference passes on is the student's own cache from the same replayed call
            made_by = next((producers[id(a)][0] for a in args if id(a) in producers), None)
            sent_args = [Ref(replayed[producers[id(a)][0]].position)[producers[id(a)][1]] if id(a) in producers else a
                         for a in args]
            opaque = [part.cache_index] if part.cache_index is not None else []
            batch.call(part.module, part.name, *sent_args, opaque=opaque, copies=copied_parts(part),
                       caches=cache_positions(), **kwargs)
            replayed.append(Replayed(part, len(batch.calls) - 1, result, args, kwargs, made_by))
            if part.cache_index is not None and isinstance(result, tuple):
                producers[id(result[part.cache_index])] = (len(replayed) - 1, part.cache_index)
        return replayed

    def _part_problem(self, call: "Replayed", outcome: CallOutcome) -> Optional[str]:
        """What is wrong with one replayed part call (None: it equals the reference's)."""
        if isinstance(outcome, Failure):
            return outcome.describe().splitlines()[0]
        problem = value_problem(outcome.value, call.result, GATE_TOL, call.part.name, skip=call.part.cache_index,
                                names=[o.name for o in call.part.outputs])
        return f"{call.part.name} is wrong on this input ({problem})" if problem else None

    def _right_on_reference_caches(self, calls: List["Replayed"]) -> List[bool]:
        """Whether each backward part call (wrong on the cache the student's forward part made) is right
        when given the reference forward part's cache instead: then that cache is what is wrong."""
        batch = Batch(self.client)
        for call in calls:
            opaque = [call.part.cache_index] if call.part.cache_index is not None else []
            batch.call(call.part.module, call.part.name, *call.args, opaque=opaque, copies=copied_parts(call.part),
                       caches=cache_positions(), **call.kwargs)
        self.client.clear_handles()
        return [self._part_problem(call, outcome) is None for call, outcome in zip(calls, batch.run())]

    def execute(self) -> List[CallOutcome]:
        self.outcomes = self.batch.run()
        return self.outcomes

    # -------------------------------------------------------- dependencies
    def require_dependencies(self) -> None:
        """Raise :class:`Rejected` when a replayed part or F's forward is wrong on this example.

        One more worker batch: the forward again (echoed: a forward that changes its inputs in place
        corrupts its own cache) and the reference composite's part calls on the student's parts.
        """
        batch = Batch(self.client)
        forward_index = None
        if self.fwd is not None:
            args, kwargs = reference.call_arguments(self.fwd, self.inputs)
            batch.call(self.fwd.module, self.fwd.name, *args, opaque=[self.fwd.cache_index], echo=True,
                       serve=self.serve + self.serve_forward, copies=copied_parts(self.fwd), caches=cache_positions(), **kwargs)
            forward_index = 0
        replayed = self._replay_parts(batch)
        if not batch.calls:
            return
        self.client.clear_handles()
        outcomes = batch.run()
        found = {i: self._part_problem(call, outcomes[call.position]) for i, call in enumerate(replayed)}
        # A backward part fed the cache of a student's forward part that is itself right in its outputs:
        # when the backward part is right with the reference's cache, the mistake is that forward part's cache.
        suspects = [i for i, problem in found.items() if problem and replayed[i].made_by is not None
                    and not found[replayed[i].made_by]]
        cached: set = set()
        if suspects:
            for i, right in zip(suspects, self._right_on_reference_caches([replayed[i] for i in suspects])):
                if right:
                    producer, part = replayed[replayed[i].made_by].part, replayed[i].part
                    found[i] = None
                    found[replayed[i].made_by] = (f"the cache of your {producer.name} is wrong on this input (your "
                                                  f"{part.name} is right with the reference {producer.name}'s cache)")
                    cached.add(replayed[i].made_by)
        # (dependency, problem, claim): parts first, then the forward
        problems = [(replayed[i].part.name, problem, "cache" if i in cached else "wrong")
                    for i, problem in sorted(found.items()) if problem]
        if forward_index is not None:
            problem = self._forward_problem(outcomes[forward_index])
            if problem:
                claim = "inplace" if "in place" in problem else "wrong"
                problems.append((self.fwd.name, problem, claim))  # type: ignore[union-attr]
        if problems:
            names = tuple(dict.fromkeys(name for name, _, _ in problems))
            raise Rejected(problems[0][0], problems[0][1], self.ex, names[1:], claim=problems[0][2])

    def _forward_problem(self, outcome: CallOutcome) -> Optional[str]:
        assert self.fwd is not None
        if isinstance(outcome, Failure):
            return outcome.describe().splitlines()[0]
        try:
            got = unpack(self.fwd, outcome.value, self.ex.size, self.ex.cell)
        except CheckFailed as exc:
            return exc.message
        changed = modified(self.inputs, outcome.args_after or [], [n for n, _ in self.fwd.args])
        if changed is not None:
            return f"{self.fwd.name} modified its input {changed} in place"
        if self.mode.own:  # wrong everywhere: F is judged by what measures it alone
            return None
        with np.errstate(all="ignore"):
            wrong = mismatch(got, self.reference_forward(), GATE_TOL)
        return None if wrong is None else f"{self.fwd.name} is wrong on this input ({wrong.output})"

    def reference_forward(self, inputs: Optional[Dict[str, Any]] = None) -> Dict[str, np.ndarray]:
        target = self.fwd or self.fn
        return oracle.current().expected(target, inputs if inputs is not None else self.inputs)

    # -------------------------------------------------------- F's own outputs
    def outputs(self, index: int, finite: bool = True) -> Dict[str, np.ndarray]:
        """F's outputs from call ``index`` (CheckFailed when it failed or broke the contract)."""
        outcome = self.outcomes[index]
        if isinstance(outcome, Failure):
            raise failure(outcome)
        try:
            return unpack(self.fn, outcome.value, self.ex.size, self.ex.cell, finite=finite)
        except CheckFailed as exc:
            exc.contract = exc.message
            raise

    def forward_outputs(self) -> Dict[str, np.ndarray]:
        assert self.fwd is not None and self.forward_index is not None
        outcome = self.outcomes[self.forward_index]
        if isinstance(outcome, Failure):
            raise failure(outcome)
        return unpack(self.fwd, outcome.value, self.ex.size, self.ex.cell)

    def expected(self, inputs: Optional[Dict[str, Any]] = None) -> Dict[str, np.ndarray]:
        key = id(inputs)
        if key not in self._expected:
            self._expected[key] = oracle.current().expected(self.fn, inputs if inputs is not None else self.inputs)
        return self._expected[key]


@dataclass
class Replayed:
    """One call of a graded part that the reference composite makes on an example, replayed on the
    student's part: where it sits in the batch, the reference's arguments and result, and which
    earlier replayed call (index) made the cache it reads (None: no cache, or the reference's)."""

    part: Function
    position: int
    result: Any
    args: tuple
    kwargs: dict
    made_by: Optional[int] = None


@dataclass
class Notes:
    """What a test learnt about F's dependencies, for the feedback and for escalating F's mode."""

    function: str
    rejected: int = 0
    counted: int = 0
    by_self: int = 0  # F itself wrong where the test needs it right (full BPTT, in a truncation test)
    uninformative: int = 0  # examples that prove nothing either way
    trial_failed: bool = False  # F was wrong on the reference forward's cache (Mode.trial)
    cache_wrong: bool = False  # F's forward had right outputs but a wrong cache
    first: Optional[Rejected] = None
    dependencies: List[str] = field(default_factory=list)
    firsts: Dict[str, Rejected] = field(default_factory=dict)  # dependency -> its first rejection
    covered: set = field(default_factory=set)  # what the counted examples cover (hidden_tests.coverage)
    by_name: Dict[str, int] = field(default_factory=dict)  # dependency -> examples it kept out

    def add(self, rejection: Rejected) -> None:
        self.rejected += 1
        if self.first is None:
            self.first = rejection
        self.firsts.setdefault(rejection.dependency, rejection)
        self.by_name[rejection.dependency] = self.by_name.get(rejection.dependency, 0) + 1
        self.by_self += rejection.dependency == self.function
        self.uninformative += rejection.dependency == UNINFORMATIVE
        self.trial_failed = self.trial_failed or rejection.dependency == TRIAL
        self.cache_wrong = self.cache_wrong or rejection.cache
        for name in (rejection.dependency,) + rejection.also:
            if name not in self.dependencies and name != TRIAL:
                self.dependencies.append(name)

    @property
    def by_dependencies(self) -> int:
        """Rejections because a dependency of F was wrong: another mode may avoid them."""
        return self.rejected - self.by_self - self.uninformative - self.trial_failed

    def claims(self) -> List[Tuple[str, str]]:
        """(dependency, claim) for every dependency that kept an example out (what the notes say of them)."""
        return [(name, self.firsts[name].claim) for name in self.by_name
                if name not in (self.function, UNINFORMATIVE, TRIAL) and name in self.firsts]

    def first_dependency(self) -> Optional[Rejected]:
        for name, rejection in self.firsts.items():
            if name not in (self.function, UNINFORMATIVE, TRIAL):
                return rejection
        return None
