"""The program that runs INSIDE the sandbox: imports the student's modules and executes calls.

It holds no reference code and no tests: it only receives arrays and call descriptions over the
protocol pipes (fds given on the command line) and sends back arrays, or opaque handles for
everything else (caches, results of the wrong type), which it keeps in a handle table.

The grader starts it as ``python -I -c BOOTSTRAP IN_FD OUT_FD SUBMISSION_DIR`` where the bootstrap
(:func:`bootstrap_source`) carries the source of this module and of :mod:`autograder.worker.protocol`, so
nothing of the repository needs to be visible inside the sandbox. Requests:

- ``{"op": "import", "module": name, "names": [...]}`` → ``{"ok": {"present": [...]}}`` or
  ``{"error": ...}``;
- ``{"op": "call", "clear": bool, "calls": [{"module", "function", "args", "kwargs", "opaque",
  "echo"}]}`` → one ``{"started": i, "t": monotonic seconds}`` message before each call, then
  ``{"results": [...]}`` with ``{"ok": value}`` (plus ``"args_after"`` when ``echo``, and ``"shared"``:
  the [output path, argument path] pairs of returned arrays that share memory with an argument) or
  ``{"error": ...}`` per call. With ``"hold": true`` (a batch the grader sent ahead of its turn)
  what the student's code prints through ``sys.stdout``/``sys.stderr`` is held and dropped, and
  the results say ``"printed": bool`` (the grader then runs that batch again, in its turn).
  ``opaque`` lists the positions of a returned tuple that stay in the worker as handles (caches).
  ``serve`` (optional) lists graded functions (``"module.function"``) that, during this call only,
  are replaced in the student's modules by proxies: each call of one sends
  ``{"part": key, "args", "kwargs"}`` to the grader and waits for ``{"ok": value}`` or
  ``{"error": ...}`` on the request pipe. That is how a function built on graded parts is tested
  in isolation when those parts are wrong: the grader answers with the reference part, which
  never enters the worker. ``copies`` (optional) lists graded functions that, during this call
  only, receive copies of their array arguments (arrays, and lists, tuples and dicts of them): a
  part that changes its inputs in place cannot change the composite's arrays, so the composite
  is judged as if its parts left their inputs alone (the part's own test charges that mistake).
  ``caches`` (optional) maps graded forward functions to the position of the cache they return.
  Such a part, copied or served, keeps the student's own cache: a served forward part returns the
  reference's outputs with the cache of the student's part called on the same arguments, and every
  such cache is remembered with the arguments that made it (until the handles are cleared). A served
  backward part given a remembered cache sends, instead of it, the forward part and its arguments
  (``"derived"``), and the grader answers from the reference's own cache for them: served parts
  work whatever layout the student's caches have.

Errors are ``{"type", "message", "traceback": [lines in the student's files only]}``.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

try:  # inside the sandbox the bootstrap registers the protocol under this name
    import _ag_protocol as protocol  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - imported from the repository (tests, docs)
    from autograder.worker import protocol


class DependencyError(Exception):
    """An argument refers to a call of the same batch that failed."""


class ServedPartError(Exception):
    """A part served by the grader (the reference) refused the arguments it was called with."""


def _type_name(value: Any) -> str:
    try:
        kind = type(value)
        module = str(getattr(kind, "__module__", ""))
        name = str(getattr(kind, "__qualname__", kind.__name__))
        return (name if module in ("builtins", "") else f"{module}.{name}")[:200]
    except Exception:  # noqa: BLE001 - hostile types
        return "object"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # noqa: BLE001
        return "<exception message could not be shown>"


class Worker:
    def __init__(self, in_fd: int, out_fd: int, submission: str) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.submission = os.path.realpath(submission)
        self._student_paths: Dict[str, bool] = {}
        self._modules_seen: Tuple[Tuple[Any, ...], List[Any]] = ((), [])  # sys.modules' modules, the student's
        self.handles: Dict[int, Any] = {}
        self.next_handle = 1
        self.import_errors: Dict[str, dict] = {}
        # id(cache) -> (the cache, "module.function" of the forward part that made it, its args, its kwargs)
        self.made: Dict[int, Tuple[Any, str, Any, Any, Any, Any]] = {}

    # ------------------------------------------------------------ helpers
    def error(self, exc: BaseException) -> dict:
        frames = []
        for frame in traceback.extract_tb(exc.__traceback__):
            path = os.path.realpath(frame.filename) if frame.filename and not frame.filename.startswith("<") else ""
            if path.startswith(self.submission + os.sep):
                rel = os.path.relpath(path, self.submission)
                frames.append(f"{rel}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"[:300])
        if isinstance(exc, SyntaxError) and exc.filename:
            rel = os.path.relpath(os.path.realpath(exc.filename), self.submission)
            frames.append(f"{rel}:{exc.lineno}: {(exc.text or '').strip()}"[:300])
        return {"type": _type_name(exc), "message": _safe_str(exc), "traceback": frames[-20:]}

    def handle(self, value: Any) -> dict:
        ident = self.next_handle
        self.next_handle += 1
        self.handles[ident] = value
        name = _type_name(value)
        if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
            name += f" of dtype {value.dtype}"  # an ndarray that cannot cross: say why
        return {"h": ident, "type": name}

    def send(self, header: dict, blobs: List[bytes]) -> None:
        if "started" not in header:
            _flush_student_output()  # the grader may kill us at any time after this reply
        protocol.write_message(self.out_fd, header, blobs)

    def module(self, name: str) -> Any:
        if name in self.import_errors:
            raise ImportError(self.import_errors[name]["message"])
        return importlib.import_module(name)

    # ------------------------------------------------------------ operations
    def do_import(self, header: dict) -> None:
        name = str(header["module"])
        try:
            module = importlib.import_module(name)
            present = [n for n in header.get("names", []) if callable(getattr(module, str(n), None))]
            self.send({"ok": {"present": present}}, [])
        except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a student error too
            self.import_errors[name] = self.error(exc)
            self.send({"error": self.import_errors[name]}, [])

    def do_calls(self, header: dict, blobs: List[bytes]) -> None:
        if header.get("clear"):
            self.handles.clear()
            self.made.clear()
        held = header.get("hold") is True
        if held:  # sent ahead of its turn: what the student's code prints is held, then dropped
            _HeldStream.holding = []
        try:
            replies, out_blobs = self._run_calls(header, blobs)
        finally:
            printed = bool(_HeldStream.holding)
            _HeldStream.holding = None
        reply: Dict[str, Any] = {"results": replies}
        if held:
            reply["printed"] = printed
        self.send(reply, out_blobs)

    def _run_calls(self, header: dict, blobs: List[bytes]) -> Tuple[List[dict], List[bytes]]:
        results: List[Any] = []  # per call: ("ok", value) or ("error", dict)
        out_blobs: List[bytes] = []
        replies: List[dict] = []
        for index, call in enumerate(header["calls"]):
            self.send({"started": index, "t": time.monotonic()}, [])

            def special(node: dict) -> Any:
                if "h" in node:
                    if node["h"] not in self.handles:
                        raise DependencyError("a value from an earlier call is no longer available")
                    return self.handles[node["h"]]
                status, value = results[int(node["r"])]
                if status != "ok":
                    raise DependencyError("an earlier call it depends on failed")
                for key in node.get("p", []):
                    value = value[key]
                return value

            restore: List[Any] = []
            try:
                args = protocol.decode(call["args"], blobs, special, lambda v, t: v)
                kwargs = protocol.decode(call["kwargs"], blobs, special, lambda v, t: v)
                caches = dict(call.get("caches") or {})
                # the function called, when served itself, is the reference's whole (its cache too)
                caches.pop(f"{call['module']}.{call['function']}", None)
                called = (str(call["module"]), str(call["function"]))
                restore = self.serve_parts(call.get("serve", []), caches, called)
                restore += self.copy_parts(call.get("copies", []), caches, called)
                function = getattr(self.module(call["module"]), call["function"])  # served itself, maybe
                value = function(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - sys.exit in student code fails only this call
                results.append(("error", None))
                replies.append({"error": self.error(exc)})
                continue
            finally:
                for holder, key, original in reversed(restore):
                    holder[key] = original
            results.append(("ok", value))
            opaque = set(call.get("opaque", []))
            if opaque and type(value) is tuple:
                tree = {"t": [self.handle(v) if i in opaque else protocol.encode(v, out_blobs, self.handle)
                              for i, v in enumerate(value)]}
            else:
                tree = protocol.encode(value, out_blobs, self.handle)
            reply = {"ok": tree}
            if call.get("echo"):
                # only what the grader sent as data (not handles/references) is echoed back
                sent = call["args"].get("l", call["args"].get("t", []))
                echoed = [None if isinstance(node, dict) and ("h" in node or "r" in node) else arg
                          for node, arg in zip(sent, args)]
                reply["args_after"] = protocol.encode(echoed, out_blobs, self.handle)
                shared = _shared(value, echoed)
                if shared:
                    reply["shared"] = shared
            replies.append(reply)
        return replies, out_blobs

    # ------------------------------------------------------------ served parts
    def serve_parts(self, keys: List[str], caches: Dict[str, int], called: Tuple[str, str] = ("", "")) -> List[Any]:
        """Replace each graded part in ``keys`` by a proxy to the grader; return what to restore.

        The student's modules may hold a part under its own name, under another name, or in a dict
        (e.g. ``{"fast": step_forward}``): every module-level binding and dict value that is the
        student's function is replaced, so the composite under test reaches the served part.
        """
        return self._replace_parts(keys, lambda key, original: self.part_proxy(key, caches.get(key), original), called)

    def copy_parts(self, keys: List[str], caches: Dict[str, int], called: Tuple[str, str] = ("", "")) -> List[Any]:
        """Replace each graded part in ``keys`` by a wrapper that calls it on copies of its array
        arguments (bound wherever the student's modules hold it); return what to restore."""
        def make(key: str, original: Any) -> Any:
            return None if original is None else self.on_copies(key, original, caches.get(key))

        return self._replace_parts(keys, make, called)

    def remember(self, key: str, result: Any, index: Optional[int], args: Any, kwargs: Any) -> None:
        """Remember the cache in ``result`` (position ``index``) with the arguments that made it, twice: as
        they were at the call (the grader computes the reference cache from these, so what the forward
        computed stays right) and the very objects the caller passed (not copies: an argument that the
        reference keeps in its cache is given as the caller's object, so what the caller later does to
        it shows, as it would in a cache that holds it)."""
        if index is not None and type(result) is tuple and 0 <= index < len(result):
            self.made[id(result[index])] = (result[index], key, args, kwargs, _copied(args), _copied(kwargs))

    def on_copies(self, key: str, function: Any, index: Optional[int]) -> Any:
        """``function`` as if called on copies of its array arguments: called on the caller's arrays
        (so a cache holds them, as in the student's own code), and, if it changed one of them, the
        change undone and the call made again on copies. A cache it returns is remembered."""
        worker = self

        def on_copies(*args: Any, **kwargs: Any) -> Any:
            before = [(array, array.copy()) for _, array in _arrays([args, kwargs], [])]
            result = function(*args, **kwargs)
            changed = [(array, saved) for array, saved in before if not _same(array, saved)]
            if changed:  # the part changed the caller's arrays: undo it, and give the part copies instead
                for array, saved in changed:
                    array[...] = saved
                result = function(*_copied(args), **_copied(kwargs))
            worker.remember(key, result, index, args, kwargs)
            return result

        on_copies.__name__ = getattr(function, "__name__", "part")
        return on_copies

    def _replace_parts(self, keys: List[str], make: Any, called: Tuple[str, str] = ("", "")) -> List[Any]:
        """Bind ``make(key, original)`` wherever the student's modules hold each part of ``keys``, except
        the name of the function called (``called``), which stays the student's own even when it is the
        very same object as a part (``f = g = ...``): the function under test is never a stand-in."""
        restore: List[Any] = []
        found = [self._part(str(key)) for key in keys]
        originals = [id(original) for _, _, original in found if original is not None]
        if len(set(originals)) < len(originals) or len({(m, n) for m, n, _ in found}) < len(found):
            # a part bound to another's function, or named twice: one walk per part, each seeing the last's
            for key in keys:
                module_name, name, original = self._part(str(key))
                proxy = make(str(key), original)
                if proxy is not None:
                    self._bind([(module_name, name, original, proxy)], called, restore)
            return restore
        # Distinct parts: one walk binds them all, as one walk per part would (none holds another's function).
        wanted = [(m, n, original, make(str(key), original)) for key, (m, n, original) in zip(keys, found)]
        self._bind([w for w in wanted if w[3] is not None], called, restore)
        return restore

    def _part(self, key: str) -> Tuple[str, str, Any]:
        """(module name, name, the student's function or None) of the graded part ``key``."""
        module_name, _, name = key.partition(".")
        try:
            return module_name, name, getattr(self.module(module_name), name)
        except BaseException:  # noqa: BLE001 - a missing part: the proxy stands in anyway
            return module_name, name, None

    def _bind(self, wanted: List[Tuple[str, str, Any, Any]], called: Tuple[str, str], restore: List[Any]) -> None:
        """For each (module name, name, original, proxy) of ``wanted``: bind the proxy to that name, and
        wherever the student's modules hold the original (module-level names, and inside dicts, lists
        and tuples, two levels deep). A dict or list met again at the same depth (every module's
        ``__builtins__``) is not walked again: nothing is left to replace in it."""
        if not wanted:
            return
        named = {(m, n): proxy for m, n, _, proxy in wanted}
        proxies = {id(original): proxy for _, _, original, proxy in wanted if original is not None}
        seen: set = set()
        for module in self.student_modules():
            namespace = vars(module)
            for attr, value in list(namespace.items()):
                slot = (module.__name__, attr)
                proxy = named.get(slot)
                if proxy is not None:  # the called function's own name only when it is served itself
                    _swap(namespace, attr, proxy, restore)
                elif proxies and slot != called:
                    _replace_in(namespace, attr, value, proxies, restore, seen)

    def student_modules(self) -> List[Any]:
        """The student's modules now in ``sys.modules`` (the last answer while ``sys.modules`` holds the
        same modules: every call asks)."""
        snapshot = tuple(sys.modules.values())
        if snapshot != self._modules_seen[0]:
            found = []
            for module in snapshot:
                path = getattr(module, "__file__", None)
                if isinstance(path, str) and self._in_submission(path):
                    found.append(module)
            self._modules_seen = (snapshot, found)
        return list(self._modules_seen[1])

    def _in_submission(self, path: str) -> bool:
        """Whether a module file is the student's (memoized: realpath costs a syscall per path part,
        and every served call asks it of every module numpy has loaded)."""
        known = self._student_paths.get(path)
        if known is None:
            known = self._student_paths[path] = os.path.realpath(path).startswith(self.submission + os.sep)
        return known

    def part_proxy(self, key: str, index: Optional[int] = None, original: Any = None) -> Any:
        """The stand-in for a served part: asks the grader for the reference's result. A cache among
        the arguments that a student's forward part made is sent as that part and its arguments; a
        forward part (``index``: its cache's position) returns the student's own cache."""
        worker = self

        def served(*args: Any, **kwargs: Any) -> Any:
            blobs: List[bytes] = []
            sent, derived = list(args), []
            for position, arg in enumerate(args):
                made = worker.made.get(id(arg))
                if made is not None and made[0] is arg:
                    sent[position] = None
                    derived.append({"position": position, "forward": made[1],
                                    "args": protocol.encode(list(made[4]), blobs, worker.handle),
                                    "kwargs": protocol.encode(dict(made[5]), blobs, worker.handle),
                                    "live_args": protocol.encode(list(made[2]), blobs, worker.handle),
                                    "live_kwargs": protocol.encode(dict(made[3]), blobs, worker.handle)})
            request = {"part": key, "args": protocol.encode(sent, blobs, worker.handle),
                       "kwargs": protocol.encode(dict(kwargs), blobs, worker.handle)}
            if derived:
                request["derived"] = derived
            protocol.write_message(worker.out_fd, request, blobs)
            header, reply_blobs = protocol.read_message(worker.in_fd)
            if "error" in header:
                raise ServedPartError(str(header["error"].get("message", "refused"))[:2000])
            value = protocol.decode(header["ok"], reply_blobs, lambda node: None, lambda v, t: v)
            if index is not None and original is not None and type(value) is tuple and 0 <= index < len(value):
                try:  # the student's own cache for the same arguments, so their code can read it
                    mine = original(*_copied(args), **_copied(kwargs))
                except BaseException:  # noqa: BLE001 - their part fails here: the reference's cache then
                    mine = None
                if type(mine) is tuple and len(mine) == len(value):
                    value = value[:index] + (mine[index],) + value[index + 1:]
                    worker.remember(key, value, index, args, kwargs)
            return value

        served.__name__ = key.partition(".")[2]
        return served

    def serve(self) -> None:
        while True:
            try:
                header, blobs = protocol.read_message(self.in_fd)
            except protocol.ProtocolError:
                return  # the grader closed the pipe: we are done
            op = header.get("op")
            if op == "import":
                self.do_import(header)
            elif op == "call":
                self.do_calls(header, blobs)
            elif op == "ping":
                self.send({"ok": {"pong": 1}}, [])
            else:
                return


def _arrays(value: Any, path: List[Any], depth: int = 0) -> Any:
    """(path, array) for every numpy array in ``value`` (tuples, lists, dict values), paths of indices/keys."""
    kind = type(value)
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        yield path, value
    elif depth < 4 and kind in (tuple, list):
        for i, item in enumerate(value):
            yield from _arrays(item, path + [i], depth + 1)
    elif depth < 4 and kind is dict:
        for key, item in value.items():
            if type(key) is str:
                yield from _arrays(item, path + [key], depth + 1)


def _shared(result: Any, args: List[Any]) -> List[List[Any]]:
    """[output path, argument path] for each returned array that shares memory with an argument array."""
    import numpy as np

    inputs = list(_arrays(args, []))
    found = []
    for out_path, out in _arrays(result, []):
        for in_path, arg in inputs:
            try:
                same = bool(np.may_share_memory(out, arg)) and bool(np.shares_memory(out, arg, max_work=10**6))
            except Exception:  # noqa: BLE001 - too hard to tell: not reported
                same = False
            if same:
                found.append([out_path, in_path])
                break
    return found[:100]


def _same(array: Any, saved: Any) -> bool:
    """Whether ``array`` still holds what ``saved`` holds (shape, dtype and bytes)."""
    return array.shape == saved.shape and array.dtype == saved.dtype and array.tobytes() == saved.tobytes()


def _copied(value: Any) -> Any:
    """``value`` with every numpy array in it (in lists, tuples and dicts) replaced by a copy."""
    kind = type(value)
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        return value.copy()
    if kind is list:
        return [_copied(v) for v in value]
    if kind is tuple:
        return tuple(_copied(v) for v in value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    return value


def _swap(holder: Any, key: Any, value: Any, restore: List[Any]) -> None:
    restore.append((holder, key, holder[key]))
    holder[key] = value


def _replace_in(holder: Any, key: Any, value: Any, proxies: Dict[int, Any], restore: List[Any], seen: set,
                depth: int = 0) -> None:
    """Replace each original (``proxies``: id of the original -> its proxy) by its proxy in
    ``holder[key]``: the value itself, or inside a dict, list or tuple of it (two levels:
    ``{"fast": (step_forward, step_backward)}``). ``seen``: (id, depth) of the dicts and lists walked."""
    proxy = proxies.get(id(value))
    if proxy is not None:
        _swap(holder, key, proxy, restore)
    elif depth >= 2:
        return
    elif type(value) is dict or type(value) is list:
        if (id(value), depth) in seen:
            return
        seen.add((id(value), depth))
        for k, v in (list(value.items()) if type(value) is dict else list(enumerate(value))):
            _replace_in(value, k, v, proxies, restore, seen, depth + 1)
    elif type(value) is tuple and any(id(v) in proxies or type(v) in (tuple, list, dict) for v in value):
        items = [proxies.get(id(v), v) for v in value]
        if any(a is not b for a, b in zip(items, value)):
            _swap(holder, key, tuple(items), restore)


class _HeldStream:
    """sys.stdout / sys.stderr for the student's code: written through, except while a batch sent
    ahead of its turn runs (``holding`` is a list then): its text is held, to be dropped."""

    holding: Optional[List[str]] = None

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: Any) -> int:
        held = _HeldStream.holding
        if held is not None:
            held.append(str(text))
            return len(text)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _HeldStream.holding is None:
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _flush_student_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a student may have replaced or closed them
            pass


def main(argv: List[str]) -> None:
    in_fd, out_fd, submission = int(argv[0]), int(argv[1]), argv[2]
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.realpath(submission))
    if sys.stdout is not None and sys.stderr is not None:  # held while a batch sent ahead runs
        sys.stdout, sys.stderr = _HeldStream(sys.stdout), _HeldStream(sys.stderr)
    Worker(in_fd, out_fd, submission).serve()
    os._exit(0)  # no interpreter teardown: student atexit hooks and threads do not run


def _confinement_prelude() -> str:
    from autograder.sandbox.confine import bootstrap_prelude  # the grader's package (never run in the worker)

    return bootstrap_prelude()


def bootstrap_source() -> str:
    """A self-contained ``python -c`` program: the kernel confinement (:mod:`autograder.sandbox.confine`,
    as ``AUTOGRADER_CONFINE`` asks), the protocol and this worker, then ``main``."""
    here = Path(__file__).resolve().parent
    protocol_src = (here / "protocol.py").read_text(encoding="utf-8")
    worker_src = (here / "program.py").read_text(encoding="utf-8")
    return (
        _confinement_prelude()  # Landlock and seccomp first: before numpy, the protocol and student code
        + "import sys, types\n"
        "_m = types.ModuleType('_ag_protocol')\n"
        f"exec(compile({protocol_src!r}, '<autograder protocol>', 'exec'), _m.__dict__)\n"
        "sys.modules['_ag_protocol'] = _m\n"
        "_w = types.ModuleType('_ag_worker')\n"
        "sys.modules['_ag_worker'] = _w\n"
        f"exec(compile({worker_src!r}, '<autograder worker>', 'exec'), _w.__dict__)\n"
        "_w.main(sys.argv[1:])\n"
    )
