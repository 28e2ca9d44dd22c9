"""Grader side of the worker: start it in the sandbox, send batches of calls, survive its failures.

A :class:`Batch` collects calls (a forward and its backward can go in one round trip, the
backward's cache argument being a :class:`Ref` to the forward's result). Each call's outcome is an
:class:`Ok` (the decoded value: arrays, tuples/lists/dicts of them, :class:`~autograder.worker.protocol.Scalar`,
:class:`Handle` for anything else) or a :class:`Failure` (``exception``, ``timeout``, ``crash``,
``missing``, ``dependency``).

A batch may be sent ahead of its turn (:meth:`WorkerClient.send_ahead`), so that the worker runs it
while the grader judges the one before; its reply is taken only for the very same batch.

A timeout or crash kills the worker; the next batch starts a fresh one. A function that timed
out or crashed the worker once is not run again (its later calls fail at once with the same
message), so an infinite loop costs one timeout, not one per example.
"""
from __future__ import annotations

import marshal
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from autograder.sandbox.backend import SandboxedProcess
from autograder.sandbox.limits import Limits
from autograder.worker import launch as worker_launch
from autograder.worker import protocol


@dataclass(frozen=True)
class Handle:
    """An object that stays in the worker (a cache, or a value of a type that cannot cross)."""

    ident: int
    type_name: str
    generation: int


@dataclass(frozen=True)
class Ref:
    """Part of the result of an earlier call of the same batch: ``result[path[0]][path[1]]...``."""

    call: int
    path: Tuple[Any, ...] = ()

    def __getitem__(self, key: Any) -> "Ref":
        return Ref(self.call, self.path + (key,))


@dataclass
class Ok:
    value: Any
    args_after: Optional[List[Any]] = None
    # [output path, argument path] of returned arrays sharing memory with an argument (echoed calls)
    shared: List[List[Any]] = field(default_factory=list)


@dataclass
class Failure:
    kind: str  # exception | timeout | crash | missing | dependency
    type: str = ""
    message: str = ""
    traceback: List[str] = field(default_factory=list)
    function: str = ""

    def describe(self) -> str:
        """One or a few lines for feedback."""
        if self.kind == "exception":
            text = f"{self.function} raised {self.type}: {self.message}".rstrip(": ")
            if self.traceback:
                text += "\n" + "\n".join("    " + line for line in self.traceback)
            return text
        return self.message or f"{self.function}: {self.kind}"


CallOutcome = Union[Ok, Failure]


@dataclass(frozen=True)
class Derived:
    """A cache argument of a served backward part, as the forward part that made it and the arguments
    it was called with (the grader answers from the reference forward's cache for them)."""

    forward: str
    args: list  # as they were at the call
    kwargs: dict
    live_args: Optional[list] = None  # the caller's objects as they are now (None: the same as args)
    live_kwargs: Optional[dict] = None


class Batch:
    """Calls sent to the worker in one round trip."""

    def __init__(self, client: "WorkerClient") -> None:
        self.client = client
        self.calls: List[dict] = []

    def call(self, module: str, function: str, *args: Any, opaque: Sequence[int] = (), echo: bool = False,
             serve: Sequence[str] = (), copies: Sequence[str] = (), caches: Optional[Dict[str, int]] = None,
             **kwargs: Any) -> Ref:
        """Add a call; ``serve`` lists graded parts answered by the grader during it, ``copies`` the
        graded parts that receive copies of their array arguments during it, ``caches`` the position
        of the cache each graded forward function returns (see worker)."""
        self.calls.append({"module": module, "function": function, "args": list(args), "kwargs": kwargs,
                           "opaque": list(opaque), "echo": echo, "serve": list(serve),
                           "copies": [c for c in copies if c not in serve], "caches": dict(caches or {})})
        return Ref(len(self.calls) - 1)

    def run(self) -> List[CallOutcome]:
        return self.client.run(self.calls)


class WorkerClient:
    """One submission's worker, restarted on demand. Use as a context manager."""

    def __init__(self, submission: Path, *, sandbox_mode: str = "auto", limits: Limits = Limits(),
                 call_seconds: float = 10.0) -> None:
        self.submission = Path(submission).resolve()
        self.mode = sandbox_mode
        self.limits = limits
        self.call_seconds = call_seconds
        self.proc: Optional[SandboxedProcess] = None
        self.generation = 0
        self.broken: Dict[str, Failure] = {}  # "module.function" -> the timeout/crash it caused
        self.import_failures: Dict[str, Failure] = {}
        self.present: Dict[str, List[str]] = {}
        self.output = {"stdout": bytearray(), "stderr": bytearray()}  # the student's prints, capped
        self.output_truncated = False
        self._threads: List[threading.Thread] = []
        self.calls_run = 0
        self.restarts = 0
        self._lock = threading.Lock()
        self._fds: Tuple[int, int] = (-1, -1)
        self._needs_clear = False
        self._started = -1
        # Call messages sent ahead of their turn (see send_ahead), oldest first: their exact bytes.
        self._ahead: Deque[bytes] = deque()
        self.lookahead = True
        self.ahead_counts = {"sent": 0, "taken": 0}  # batches sent ahead, and those whose turn came
        self._planning = 0  # while planning: the number of batches to record
        self._planned: List[Tuple[List[dict], bool]] = []
        self._pipe_room = 1 << 16
        self.expected_modules: Dict[str, Sequence[str]] = {}
        # Answers served-part requests: (key "module.function", args, kwargs) -> value (see worker).
        self.part_server: Optional[Callable[[str, list, dict], Any]] = None

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        launched = worker_launch.claim(self.submission, self.mode, self.limits) or worker_launch.launch(
            self.submission, self.mode, self.limits)
        self.proc, self._fds, self._pipe_room = launched.proc, launched.fds, launched.pipe_room
        self.generation += 1
        self._needs_clear = False
        for key, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            thread = threading.Thread(target=self._drain, args=(stream, key), daemon=True)
            thread.start()
            self._threads.append(thread)
        for module, names in self.expected_modules.items():
            self._import(module, names)

    def close(self) -> None:
        self._ahead = deque()
        if self.proc is not None:
            worker_launch.stop(self.proc, self._fds)
            self.proc = None
            for thread in self._threads:  # read what the worker printed before it ended
                thread.join(timeout=2)
            self._threads = []

    def _drain(self, stream: Any, key: str) -> None:
        while True:
            try:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            with self._lock:
                buffer = self.output[key]
                room = self.limits.output_bytes // 2 - len(buffer)
                if room > 0:
                    buffer += chunk[:room]
                if len(chunk) > max(room, 0):
                    self.output_truncated = True

    def student_output(self) -> str:
        """What the student's code printed (stdout, then stderr), capped; complete after close()."""
        with self._lock:
            text = "".join(bytes(self.output[k]).decode("utf-8", errors="replace") for k in ("stdout", "stderr"))
        return text + ("\n[... output truncated]" if self.output_truncated else "")

    def _ensure_started(self) -> None:
        if self.proc is None:
            self.start()

    def _fail_worker(self) -> str:
        """Kill the worker; return what we know about why it died."""
        proc = self.proc
        self.close()
        self.restarts += 1
        code = proc.returncode if proc is not None else None
        if code is not None and code < 0:
            return f"killed by signal {-code}"
        return f"exit status {code}"

    # ------------------------------------------------------------ imports
    def load_modules(self, modules: Dict[str, Sequence[str]]) -> Dict[str, CallOutcome]:
        """Import each module (one round trip each, so import-time failures are attributed)."""
        self.expected_modules = dict(modules)
        self._ensure_started()
        return {m: self.import_failures.get(m) or Ok(self.present.get(m, [])) for m in modules}

    def _import(self, module: str, names: Sequence[str]) -> None:
        if module in self.import_failures:
            return
        req_w, resp_r = self._fds
        try:
            protocol.write_message(req_w, {"op": "import", "module": module, "names": list(names)}, [])
            header, _ = protocol.read_message(resp_r, time.monotonic() + self.call_seconds)
        except protocol.Timeout:
            self.import_failures[module] = Failure("timeout", message=f"importing {module}.py did not finish within "
                                                   f"{self.call_seconds:g} s (an infinite loop at module level?)")
            self._restart_after_import_failure()
            return
        except (protocol.ProtocolError, OSError):
            why = self._fail_worker()
            self.import_failures[module] = Failure("crash", message=f"importing {module}.py ended the worker "
                                                   f"process ({why})")
            self._restart_after_import_failure()
            return
        if "error" in header:
            err = header["error"]
            self.import_failures[module] = Failure("exception", str(err.get("type")), str(err.get("message")),
                                                   [str(x) for x in err.get("traceback", [])], function=f"import {module}")
        else:
            self.present[module] = [str(n) for n in header.get("ok", {}).get("present", [])]

    def _restart_after_import_failure(self) -> None:
        self.close()
        self.start()

    # ------------------------------------------------------------ calls
    def run(self, calls: List[dict]) -> List[CallOutcome]:
        """Run a batch; every call gets an outcome, whatever the worker does (while
        :meth:`planning`, raise :class:`Planned` instead)."""
        if self._planning:
            self._planned.append((calls, self._needs_clear))
            self._needs_clear = False
            if len(self._planned) >= self._planning:
                raise Planned(self._planned)
            return [Failure("dependency", message="not run: planning", function=c["function"]) for c in calls]
        outcomes: List[Optional[CallOutcome]] = [None] * len(calls)
        pending = list(range(len(calls)))
        # Calls that cannot run are answered here; the rest go to the worker.
        runnable = []
        for i in pending:
            key = f"{calls[i]['module']}.{calls[i]['function']}"
            failure = self._precheck(calls[i], key, outcomes)
            if failure is not None:
                outcomes[i] = failure
            else:
                runnable.append(i)
        if runnable:
            self._send(calls, runnable, outcomes)
        return [o if o is not None else Failure("dependency", message="not run") for o in outcomes]

    def _precheck(self, call: dict, key: str, outcomes: List[Optional[CallOutcome]]) -> Optional[Failure]:
        module, function = call["module"], call["function"]
        if module in self.import_failures:
            f = self.import_failures[module]
            return Failure(f.kind, f.type, f.message, f.traceback, function=f"import {module}")
        asked = self.expected_modules.get(module, ())
        if module in self.present and function in asked and function not in self.present[module]:
            return Failure("missing", message=f"{function} is missing from {module}.py", function=function)
        if key in self.broken:
            return self.broken[key]
        found: List[Any] = []
        _walk((call["args"], call["kwargs"]), (Ref, Handle), found)
        for dep in (v for v in found if isinstance(v, Ref)):
            if not isinstance(outcomes[dep.call], type(None)) and not isinstance(outcomes[dep.call], Ok):
                return Failure("dependency", message="an earlier call it depends on failed", function=function)
        for handle in (v for v in found if isinstance(v, Handle)):
            if handle.generation != self.generation:
                return Failure("dependency", message="its input came from a worker that was restarted",
                               function=function)
        return None

    def _request(self, calls: List[dict], runnable: List[int], clear: bool) -> Tuple[dict, List[bytes]]:
        """The call message for ``calls[runnable]`` (header without blob lengths, and blobs)."""
        index_map = {orig: new for new, orig in enumerate(runnable)}
        blobs: List[bytes] = []

        def other(value: Any) -> dict:
            if isinstance(value, Handle):
                return {"h": value.ident}
            if isinstance(value, Ref):
                if value.call not in index_map:
                    raise ValueError("reference to a call that was not sent")
                return {"r": index_map[value.call], "p": list(value.path)}
            if isinstance(value, protocol.Scalar):
                return protocol.encode(value.value, blobs, other)
            raise TypeError(f"cannot send {type(value).__name__} to the worker")

        wire = []
        for i in runnable:
            c = calls[i]
            entry = {"module": c["module"], "function": c["function"],
                     "args": protocol.encode(c["args"], blobs, other),
                     "kwargs": protocol.encode(c["kwargs"], blobs, other),
                     "opaque": c["opaque"], "echo": c["echo"]}
            if c.get("serve"):
                entry["serve"] = list(c["serve"])
            if c.get("copies"):
                entry["copies"] = list(c["copies"])
            if c.get("caches") and (c.get("copies") or c.get("serve")):
                entry["caches"] = dict(c["caches"])
            wire.append(entry)
        return {"op": "call", "clear": clear, "calls": wire}, blobs

    def _send(self, calls: List[dict], runnable: List[int], outcomes: List[Optional[CallOutcome]]) -> None:
        self._ensure_started()
        header, blobs = self._request(calls, runnable, self._needs_clear)
        if self._ahead:  # requests were sent before their turn: this one may be the first of them
            if self._ahead[0] == _key(header, blobs):
                self._ahead.popleft()
                if self._receive(calls, runnable, outcomes, ahead=True):
                    self._needs_clear = False
                    self.ahead_counts["taken"] += 1
                    return
                self.lookahead = False  # it printed (its output was dropped): it runs again, in its turn
            self._abandon_ahead()
            self._ensure_started()
        req_w, _ = self._fds
        try:
            protocol.write_message(req_w, header, blobs)
        except OSError:
            pass  # the worker is gone: reading its reply says so
        self._needs_clear = False
        self._receive(calls, runnable, outcomes)

    def _read_reply(self, calls: List[dict], runnable: List[int]) -> Tuple[dict, List[bytes]]:
        """Read the reply to the call message of ``calls[runnable]``: its ``started`` messages (each
        restarts the clock, from when the call started in the worker), the served parts it asks
        for, then its results. Raises protocol.Timeout, ProtocolError or OSError; ``self._started``
        is the index of the call under way when it raised."""
        _, resp_r = self._fds
        self._started = -1
        deadline = time.monotonic() + self.call_seconds
        while True:
            header, reply_blobs = protocol.read_message(resp_r, deadline)
            if "started" in header:  # each call may restart the clock once, in order
                index = int(header["started"])
                if not self._started < index < len(runnable):
                    raise protocol.ProtocolError("calls reported out of order")
                self._started = index
                now = time.monotonic()
                began = header.get("t")  # the worker's clock (the same clock); never later than now
                began = min(float(began), now) if type(began) in (int, float) and began == began else now
                deadline = began + self.call_seconds
                continue
            if "part" in header:  # the call under way asks for a served part
                serving_began = time.monotonic()
                started = self._started
                allowed = calls[runnable[started]].get("serve", []) if 0 <= started < len(runnable) else []
                self._answer_part(header, reply_blobs, allowed)
                deadline += time.monotonic() - serving_began  # the grader's time is not the student's
                continue
            replies = header["results"]
            if not isinstance(replies, list) or len(replies) != len(runnable):
                raise protocol.ProtocolError("wrong number of results")
            return header, reply_blobs

    def _receive(self, calls: List[dict], runnable: List[int], outcomes: List[Optional[CallOutcome]],
                 ahead: bool = False) -> bool:
        """Read the reply to the call message just sent (or, ``ahead``, sent before its turn) and fill
        ``outcomes``. False, with nothing filled, when a message sent ahead printed (see :meth:`send_ahead`)."""
        try:
            header, reply_blobs = self._read_reply(calls, runnable)
            replies = header["results"]
        except protocol.Timeout:
            self._break(calls, runnable, self._started, outcomes, "timeout",
                        "did not return within {:g} s (an infinite loop?)".format(self.call_seconds))
            self._fail_worker()
            return True
        except (protocol.ProtocolError, OSError, KeyError, TypeError, ValueError) as exc:
            why = self._fail_worker()
            detail = why if not isinstance(exc, protocol.ProtocolError) or "closed" in str(exc) else str(exc)
            self._break(calls, runnable, self._started, outcomes, "crash",
                        f"ended the worker process ({detail}; sys.exit/os._exit, a crash, or too much memory?)")
            return True
        if ahead and header.get("printed"):
            return False
        self.calls_run += len(runnable)
        generation = self.generation

        def special(node: dict) -> Any:
            if "h" not in node or type(node["h"]) is not int:
                raise protocol.ProtocolError("unexpected reference from the worker")
            return Handle(node["h"], str(node.get("type", "object"))[:200], generation)

        for i, reply in zip(runnable, replies):
            function = calls[i]["function"]
            try:
                if not isinstance(reply, dict):
                    raise protocol.ProtocolError("malformed reply")
                if "error" in reply:
                    err = reply["error"]
                    outcomes[i] = Failure("exception", str(err.get("type", "Exception"))[:200],
                                          str(err.get("message", ""))[:2000],
                                          [str(x)[:300] for x in err.get("traceback", [])][:20], function=function)
                    if err.get("type") == "DependencyError":
                        outcomes[i] = Failure("dependency", message=str(err.get("message")), function=function)
                    continue
                value = protocol.decode(reply["ok"], reply_blobs, special)
                after = protocol.decode(reply["args_after"], reply_blobs, special) if "args_after" in reply else None
                shared = reply.get("shared") or []
                outcomes[i] = Ok(value, after, [list(pair) for pair in shared if isinstance(pair, list) and len(pair) == 2])
            except (protocol.ProtocolError, KeyError, TypeError) as exc:
                outcomes[i] = Failure("crash", message=f"{function} returned something unreadable ({exc})",
                                      function=function)
        return True

    # ------------------------------------------------------------ sending ahead
    def send_ahead(self, calls: List[dict], clear: bool) -> bool:
        """Send a batch before its turn, so that the worker runs it while the grader judges the one
        before (the two processes work side by side); False when it is not sent.

        The batch is the one :meth:`run` will be asked for next after those already sent ahead,
        with ``clear`` the handle-clearing flag it will carry. When :meth:`run` is asked for exactly
        the same message (the same bytes), it takes this reply instead of sending; any other
        request first reads and drops every reply sent ahead. So only the order in which the worker
        runs calls changes, never a call or a result, and:

        - a batch that serves parts, fails a precheck, or cannot be encoded is not sent ahead;
        - what the student's code prints during a batch sent ahead is held and dropped by the worker,
          and such a batch is run again in its turn (then lookahead stops for this worker);
        - a timeout or crash of a batch sent ahead is reported when its turn comes, as if it had
          been sent then; if its turn never comes the worker restarts silently (lookahead stops).
        """
        prepared = self.prepare_ahead(calls, clear)
        return prepared is not None and self.send_prepared(prepared)

    def prepare_ahead(self, calls: List[dict], clear: bool) -> Optional["Prepared"]:
        """The message :meth:`send_ahead` would send for a batch, or None when it cannot be sent ahead."""
        if not self.lookahead or self.proc is None:
            return None
        none: List[Optional[CallOutcome]] = [None] * len(calls)
        for call in calls:
            if call.get("serve") or self._precheck(call, f"{call['module']}.{call['function']}", none) is not None:
                return None
        runnable = list(range(len(calls)))
        try:
            header, blobs = self._request(calls, runnable, clear)
        except (ValueError, TypeError):
            return None
        return Prepared(header, blobs, _key(header, blobs))

    def room_ahead(self) -> int:
        """Bytes that may still be sent ahead (never more than half the pipe: the worker may not have
        read them yet, and the grader must never block on a full pipe)."""
        return self._pipe_room // 2 - sum(len(k) for k in self._ahead)

    def pending_ahead(self) -> int:
        """How many batches sent ahead wait for their turn."""
        return len(self._ahead)

    def send_prepared(self, prepared: "Prepared") -> bool:
        """Send a message :meth:`prepare_ahead` made (False: no room, or the worker is gone)."""
        if not self.lookahead or self.proc is None or len(prepared.key) > self.room_ahead():
            return False
        try:
            protocol.write_message(self._fds[0], dict(prepared.header, hold=True), prepared.blobs)
        except OSError:
            self.lookahead = False
            return False
        self._ahead.append(prepared.key)
        self.ahead_counts["sent"] += 1
        return True

    @contextmanager
    def planning(self, batches: int = 1) -> Iterator[None]:
        """Within it, :meth:`run` runs nothing: it records each batch it is given (with its clearing
        flag) and answers every call with a "not run" failure, until the ``batches``-th, where it
        raises :class:`Planned` with them all (what a check would send, to :meth:`send_ahead` it;
        batches after the first are worth sending only when they do not depend on the first's
        results). Nothing else changes."""
        saved = self._needs_clear
        self._planning, self._planned = batches, []
        try:
            yield
        finally:
            self._planning, self._planned = 0, []
            self._needs_clear = saved

    def settle(self) -> None:
        """Drop whatever was sent ahead and not asked for (the end of a run of examples)."""
        if self._ahead:
            self._abandon_ahead()

    def _abandon_ahead(self) -> None:
        """Read and drop the replies of every batch still sent ahead (their turn did not come)."""
        pending, self._ahead = len(self._ahead), deque()
        _, resp_r = self._fds
        for _ in range(pending):
            try:
                while True:
                    header, _ = protocol.read_message(resp_r, time.monotonic() + self.call_seconds)
                    if "results" in header:
                        break
                    if "started" not in header:
                        raise protocol.ProtocolError("unexpected message")
            except (protocol.Timeout, protocol.ProtocolError, OSError):
                self.lookahead = False
                self.close()  # not a restart of the submission's: the next batch starts a new worker
                return

    def _answer_part(self, header: dict, blobs: List[bytes], allowed: Sequence[str]) -> None:
        """Answer a served-part request of the worker with the grader's ``part_server``.

        Only the parts the call under way was given (its ``serve`` list) are answered, and only
        plain arrays and scalars are accepted as arguments; anything else is refused, and the
        refusal is raised inside the student's code (it is the composite's call that was wrong).
        """
        key = str(header.get("part"))
        req_w, _ = self._fds
        reply_blobs: List[bytes] = []
        try:
            if key not in allowed or self.part_server is None:
                raise PartRefused(f"{key} is not served during this call")

            def no_handles(node: dict) -> Any:
                raise PartRefused(f"{key} was called with an argument that is not an array "
                                  f"({str(node.get('type', 'object'))[:100]})")

            args = protocol.decode(header.get("args"), blobs, no_handles)
            kwargs = protocol.decode(header.get("kwargs"), blobs, no_handles)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise PartRefused("malformed call")
            args = plain(args)
            for entry in header.get("derived") or []:  # a cache the student's forward part made
                made_args = protocol.decode(entry.get("args"), blobs, no_handles)
                made_kwargs = protocol.decode(entry.get("kwargs"), blobs, no_handles)
                live_args = protocol.decode(entry.get("live_args", entry.get("args")), blobs, no_handles)
                live_kwargs = protocol.decode(entry.get("live_kwargs", entry.get("kwargs")), blobs, no_handles)
                position = entry.get("position")
                if (type(position) is not int or not 0 <= position < len(args) or not isinstance(made_args, list)
                        or not isinstance(made_kwargs, dict) or not isinstance(live_args, list)
                        or not isinstance(live_kwargs, dict) or len(live_args) != len(made_args)
                        or set(live_kwargs) != set(made_kwargs)):
                    raise PartRefused("malformed call")
                args[position] = Derived(str(entry.get("forward")), plain(made_args), plain(made_kwargs),
                                         plain(live_args), plain(live_kwargs))
            value = self.part_server(key, args, plain(kwargs))
            reply = {"ok": protocol.encode(value, reply_blobs, _refuse_other)}
        except PartRefused as exc:
            reply, reply_blobs = {"error": {"message": str(exc)}}, []
        except Exception as exc:  # noqa: BLE001 - the reference part raised on the student's arguments
            reply, reply_blobs = {"error": {"message": f"{key} raised {type(exc).__name__}: {exc}"[:2000]}}, []
        protocol.write_message(req_w, reply, reply_blobs)

    def _break(self, calls: List[dict], runnable: List[int], started: int, outcomes: List[Optional[CallOutcome]],
               kind: str, text: str) -> None:
        culprit = runnable[started] if 0 <= started < len(runnable) else None
        for pos, i in enumerate(runnable):
            function = calls[i]["function"]
            if i == culprit:
                failure = Failure(kind, message=f"{function} {text}", function=function)
                self.broken[f"{calls[i]['module']}.{function}"] = failure
                outcomes[i] = failure
            elif pos < started:
                outcomes[i] = Failure("dependency", message="lost when the worker was restarted", function=function)
            else:
                outcomes[i] = Failure("dependency", message="not run: an earlier call of the batch failed",
                                      function=function)

    def clear_handles(self) -> None:
        """Drop the worker's handle table with the next batch (between independent examples)."""
        self._needs_clear = True


@dataclass(frozen=True)
class Prepared:
    """A call message ready to be sent ahead: its header (without blob lengths), blobs, and key (:func:`_key`)."""

    header: dict
    blobs: List[bytes]
    key: bytes


class Planned(BaseException):
    """What :meth:`WorkerClient.run` raises while planning: the batches, each with its clearing flag
    (a BaseException, so that no check's ``except Exception`` takes it for a failure)."""

    def __init__(self, batches: List[Tuple[List[dict], bool]]) -> None:
        super().__init__("planned")
        self.batches = list(batches)


class PartRefused(Exception):
    """A served-part request that the grader does not answer (not allowed, or bad arguments)."""


def _refuse_other(value: Any) -> dict:
    raise PartRefused(f"the served part returned a {type(value).__name__}")


def plain(value: Any) -> Any:
    """Scalars as Python numbers (the reference takes plain values)."""
    if isinstance(value, protocol.Scalar):
        return value.value
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _key(header: dict, blobs: List[bytes]) -> bytes:
    """Bytes that stand for a call message: equal keys, the same calls on the same data (marshal
    format 2 is a faithful serialization of plain data without shared references: quicker than
    the JSON that is sent, and the key never leaves this process)."""
    return marshal.dumps(header, 2) + b"".join(len(b).to_bytes(8, "big") + b for b in blobs)


def _walk(tree: Any, kinds: Tuple[type, ...], found: list) -> None:
    """Append to ``found`` every value of one of ``kinds`` in the tree (lists, tuples, dict values)."""
    kind = type(tree)
    if kind in kinds:
        found.append(tree)
    elif kind is list or kind is tuple:
        for v in tree:
            if type(v) is not np.ndarray:
                _walk(v, kinds, found)
    elif kind is dict:
        for v in tree.values():
            if type(v) is not np.ndarray:
                _walk(v, kinds, found)
