"""Kernel confinement of the worker: Landlock and seccomp, applied before any student code runs.

These need no namespaces, work as root and inside Docker, and so protect process mode (Gradescope,
CI containers) as well as bwrap mode (defence in depth):

- **Landlock** (:mod:`autograder.sandbox.landlock`): the worker may read only the Python runtime
  (the standard library, the venv's packages except a grader package installed there, the C
  libraries below ``/usr/lib`` and ``/lib*``, ``/etc/ld.so.cache``, ``/dev/null`` and the random
  devices) and its own submission, and write only its private temporary folder (``TMPDIR``); no
  TCP bind or connect (ABI >= 4); no signal to, nor abstract-socket connection with, any process
  outside its sandbox (ABI >= 6). Not readable: the reference, other students' folders, ``/etc``,
  home directories, ``/proc`` and ``/sys``.
- **seccomp** (:mod:`autograder.sandbox.seccomp`): no sockets but ``AF_UNIX``, no new processes or
  programs, no ptrace, mounts, namespaces, bpf, perf, keyrings or io_uring.

Worker side: :func:`confine_worker` runs first thing in the worker bootstrap (autograder/worker/program.py)
and applies what the grader asks for in ``AUTOGRADER_CONFINE`` (``"landlock,seccomp"``); a
protection that was asked for and cannot be applied ends the worker (status ``EXIT_FAILED``)
rather than letting student code run with less than the results will claim.

Grader side: :func:`available` runs a trial worker start-up per protection (once per process,
cached) to learn what this kernel can apply, and :func:`describe` says in words what was
applied and which protection is missing.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
import threading
from typing import Dict, List, Optional, Tuple

try:  # inside the worker the bootstrap registers these under private names
    import _ag_landlock as sandbox_landlock  # type: ignore[import-not-found]
    import _ag_seccomp as sandbox_seccomp  # type: ignore[import-not-found]
except ImportError:  # the grader (the repository's package)
    from autograder.sandbox import landlock as sandbox_landlock
    from autograder.sandbox import seccomp as sandbox_seccomp

ENV = "AUTOGRADER_CONFINE"
PROTECTIONS = ("landlock", "seccomp")
EXIT_FAILED = 121
GRADER_PACKAGE = "autograder"
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache",
               "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
SYSTEM_WRITE = ("/dev/null",)


# ------------------------------------------------------------------ worker side


def _hidden_paths() -> List[str]:
    """Where a grader package installed into the runtime lives (it holds the hidden tests)."""
    hidden = []
    try:
        spec = importlib.util.find_spec(GRADER_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        hidden.append(os.path.realpath(location))
    return hidden


def _grant(tree: str, hidden: List[str], read: List[str], listed: List[str]) -> None:
    """Read access to ``tree``, except below the ``hidden`` paths (their folders stay listable only)."""
    inside = [h for h in hidden if h == tree or h.startswith(tree.rstrip(os.sep) + os.sep)]
    if not inside:
        read.append(tree)
        return
    if tree in inside or not os.path.isdir(tree):
        return
    listed.append(tree)
    for name in sorted(os.listdir(tree)):
        if name.startswith(GRADER_PACKAGE + "-") or name.startswith("__editable__"):
            continue  # its dist-info / editable-install hooks
        _grant(os.path.join(tree, name), hidden, read, listed)


def runtime_paths() -> Tuple[List[str], List[str]]:
    """(readable trees, listable-only folders) the worker needs after confinement: the runtime."""
    paths = sysconfig.get_paths()
    trees = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths]
    prefixes = [os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix)]
    # lib-dynload and the like; never an entry outside the runtime (an editable install's repository)
    trees += [e for e in sys.path if e and os.path.isdir(e) and (os.path.realpath(e) + os.sep).startswith(tuple(prefixes))]
    trees += [os.path.join(sys.base_prefix, "lib")]  # libpython, when the interpreter is a shared build
    read: List[str] = []
    listed: List[str] = []
    hidden = _hidden_paths()
    for tree in dict.fromkeys(os.path.realpath(t) for t in trees):
        if os.path.exists(tree) and not any(tree == r or tree.startswith(r.rstrip(os.sep) + os.sep) for r in read):
            _grant(tree, hidden, read, listed)
    for path in dict.fromkeys(os.path.realpath(p) for p in SYSTEM_READ):
        if os.path.exists(path) and path not in read:
            _grant(path, hidden, read, listed)
    return read, listed


def requested() -> List[str]:
    """The protections the grader asks this worker for (``AUTOGRADER_CONFINE``)."""
    return [p for p in os.environ.get(ENV, "").split(",") if p in PROTECTIONS]


def apply(submission: str, protections: List[str]) -> Dict[str, object]:
    """Apply ``protections`` to this process for good; raises OSError when one fails."""
    done: Dict[str, object] = {}
    if not protections:
        return done
    if os.path.isdir("/proc/self/task") and len(os.listdir("/proc/self/task")) != 1:
        raise OSError("confinement must start before any thread does (Landlock covers only the calling thread)")
    if "landlock" in protections:
        read, listed = runtime_paths()
        read.append(os.path.realpath(submission))
        write = list(SYSTEM_WRITE)
        tmp = os.environ.get("TMPDIR", "")
        if tmp and os.path.isdir(tmp):
            write.append(os.path.realpath(tmp))
        done["landlock"] = sandbox_landlock.restrict(read, write, sandbox_landlock.abi(), listed=listed)
    if "seccomp" in protections:
        done["seccomp"] = sandbox_seccomp.install()
    return done


def confine_worker(submission: str) -> None:
    """The worker's first step: apply what ``AUTOGRADER_CONFINE`` asks for, or end the worker."""
    wanted = requested()
    try:
        apply(submission, wanted)
    except Exception as exc:  # noqa: BLE001 - whatever failed, student code must not run unconfined
        sys.stderr.write(f"autograder worker: could not apply {', '.join(wanted)}: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(EXIT_FAILED)


# ------------------------------------------------------------------ grader side

_lock = threading.Lock()
_status: Optional[Dict[str, Tuple[bool, str]]] = None


def sources() -> Dict[str, str]:
    """Module name inside the worker -> source, in load order (for the bootstrap)."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = (("_ag_landlock", "landlock.py"), ("_ag_seccomp", "seccomp.py"), ("_ag_confine", "confine.py"))
    out = {}
    for name, file in files:
        with open(os.path.join(here, file), encoding="utf-8") as handle:
            out[name] = handle.read()
    return out


def bootstrap_prelude() -> str:
    """``python -c`` text that loads this module's sources as private modules and confines the
    process (the submission is ``sys.argv[-1]``)."""
    lines = ["import sys, types"]
    for name, source in sources().items():
        lines += [f"_m = types.ModuleType({name!r})", f"sys.modules[{name!r}] = _m",
                  f"exec(compile({source!r}, '<autograder {name[4:]}>', 'exec'), _m.__dict__)"]
    lines.append("sys.modules['_ag_confine'].confine_worker(sys.argv[-1])")
    return "\n".join(lines) + "\n"


def _trial(protection: str) -> Tuple[bool, str]:
    """A worker start-up with only ``protection``, then numpy: does it work here?"""
    import subprocess
    import tempfile

    program = bootstrap_prelude() + "import numpy\nassert float(numpy.arange(10.0).sum()) == 45.0\nprint('ok')\n"
    with tempfile.TemporaryDirectory(prefix="confine-probe-") as folder:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": folder, ENV: protection,
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        try:
            done = subprocess.run([sys.executable, "-I", "-c", program, folder], capture_output=True, env=env,
                                  cwd=folder, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
    if done.returncode == 0 and done.stdout.strip().endswith(b"ok"):
        return True, ""
    return False, done.stderr.decode(errors="replace").strip()[-300:] or f"exit status {done.returncode}"


def _why_missing(protection: str) -> str:
    if protection == "landlock":
        return "" if sandbox_landlock.abi() >= 1 else "this kernel offers no Landlock (Linux 5.13+ with landlock in lsm=)"
    return sandbox_seccomp.supported()[1]


def status() -> Dict[str, Tuple[bool, str]]:
    """Per protection: (works here, why not). Probed once per process with a trial start-up."""
    global _status
    with _lock:
        if _status is None:
            found = {}
            for protection in PROTECTIONS:
                why = _why_missing(protection)
                found[protection] = (False, why) if why else _trial(protection)
            _status = found
        return dict(_status)


def available() -> List[str]:
    """The protections a worker gets on this machine (what ``AUTOGRADER_CONFINE`` will ask for)."""
    return [p for p, (works, _) in status().items() if works]


WHAT = {
    "landlock": ("Landlock: it could read only the Python runtime and its own files, write only its private "
                 "temporary folder{net}"),
    "seccomp": ("seccomp: it could open no network socket (AF_UNIX only), start no process or program, and "
                "use no ptrace, mount, namespace, bpf, perf, keyring or io_uring call"),
}
LOST = {
    "landlock": "every file the worker's user may read was readable and every file it may write was writable",
    "seccomp": "it could open network connections and start processes",
}


def describe() -> str:
    """One paragraph: which kernel protections the worker got, and which are missing and why."""
    found = status()
    parts = []
    for protection in PROTECTIONS:
        works, why = found[protection]
        if works:
            text = WHAT[protection]
            if protection == "landlock":
                version = sandbox_landlock.abi()
                net = ", and open no TCP connection" if version >= 4 else ""
                net += ", nor signal processes outside it" if version >= 6 else ""
                text = text.format(net=net) + f" (ABI {version})"
            parts.append(text)
    lines = []
    if parts:
        lines.append("Kernel confinement: " + "; ".join(parts) + ".")
    for protection in PROTECTIONS:
        works, why = found[protection]
        if not works:
            lines.append(f"MISSING: {protection} is not available here ({why}), so {LOST[protection]}.")
    return " ".join(lines)
