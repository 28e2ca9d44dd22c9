"""Process mode when the grader is root: the worker runs as an unprivileged uid, not as root.

Gradescope runs the autograder as root in a Docker container, where bubblewrap usually cannot
create its namespaces, so ``--sandbox auto`` falls back to ``process`` mode. There the worker is
a plain child process; left as root it could read the reference solutions and hidden tests, kill
the grader and fork without limit (the kernel does not apply ``RLIMIT_NPROC`` to root). So, when
the grader is root, the child drops, before it sets its rlimits and execs, to uid/gid
``65534/65534`` ("nobody"): ``setgroups([])``, ``setresgid``, ``setresuid`` and
``PR_SET_NO_NEW_PRIVS`` (no setuid program can give root back). Then:

- files only root may read (``chmod 0700`` on a root-owned directory: the Gradescope bundle does
  that to its reference, grader package and hidden tests) cannot be read;
- root's processes (the grader) cannot be signalled;
- ``RLIMIT_NPROC`` applies (it counts every task of uid 65534, so the limit is raised by the
  tasks that uid runs already, e.g. other workers of a parallel ``grade-all``);
- the submission is read from a private world-readable copy
  (:func:`autograder.sandbox.submission_copy.copy_submission`).

What it does NOT hide: files every user may read, and the network. bwrap mode does.

The dropped uid must be able to run the interpreter and import numpy. pyenv installs Python in
``/root`` (mode 700), which uid 65534 cannot enter. :func:`drop_status` tries it once (a trial
run importing numpy as that uid) and caches the answer. When it fails the worker stays root, and
never silently: the process backend's ``describe()`` says so in the results (with the paths that
could not be reached and the fix), and a warning goes to stderr once per grader process. The fix is
to put the runtime where every user can read it (``python3 -m venv /opt/rnn-lstm-venv`` from a
system Python, as the bundle's setup.sh does; ``autograder.integrations.bundle check`` fails the
image build otherwise). Failing instead would break the grader's trusted uses of process mode on such
machines (``make bench``'s baseline, grading the reference's mutants, the test suite on CI).
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from typing import List, Optional, Tuple

from autograder.sandbox.identity import SANDBOX_GID, SANDBOX_UID, become

DROP_UID = SANDBOX_UID
DROP_GID = SANDBOX_GID
PR_SET_NO_NEW_PRIVS = 38
FIX = ("put the Python runtime and its packages where every user can read them (for example a venv made "
       "from a system Python: python3 -m venv /opt/rnn-lstm-venv, then chmod -R a+rX it), or grade with "
       "--sandbox bwrap where user namespaces work")

_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_status: Optional[Tuple[bool, str]] = None
_warned = False


def grader_is_root() -> bool:
    """Whether this grader runs as root (only then is there a privilege to drop)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def drop(uid: int = DROP_UID, gid: int = DROP_GID) -> None:
    """In the child, before the rlimits: become ``uid``/``gid`` for good, with no way back."""
    become(uid, gid)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def runtime_paths() -> List[Path]:
    """What the worker must reach: the interpreter, its installation, the venv's site-packages."""
    paths = [Path(os.path.realpath(sys.executable)), Path(os.path.realpath(sys.base_prefix))]
    for key in ("stdlib", "purelib", "platlib"):
        path = Path(os.path.realpath(sysconfig.get_paths()[key]))
        if path.exists() and path not in paths:
            paths.append(path)
    return paths


def closed_paths() -> List[str]:
    """Runtime paths that others cannot reach: a parent not searchable, or the path not readable."""
    closed = []
    for path in runtime_paths():
        try:
            reachable = all(os.stat(p).st_mode & 0o001 for p in path.parents) and bool(os.stat(path).st_mode & 0o004)
        except OSError:
            reachable = False
        if not reachable:
            closed.append(str(path))
    return closed


def _probe() -> Tuple[bool, str]:
    """Run ``python -I -c 'import numpy'`` as the dropped uid; (works, why not)."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", "import numpy"], stdin=subprocess.DEVNULL,
                              capture_output=True, cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              preexec_fn=drop, timeout=60, close_fds=True)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = f"{type(exc).__name__}: {exc}"
    else:
        if done.returncode == 0:
            return True, ""
        detail = f"exit status {done.returncode}: {done.stderr.decode(errors='replace').strip()[-300:]}"
    closed = closed_paths()
    where = f" (not reachable by other users: {', '.join(closed)})" if closed else ""
    return False, f"uid {DROP_UID} cannot run {sys.executable} and import numpy{where}; {detail}"


def drop_status() -> Tuple[bool, str]:
    """Whether a worker of this root grader can drop to uid 65534 (probed once, cached), and why not.

    ``(False, reason)`` only when the grader is root and the trial run failed; not root: ``(False, "")``
    (there is nothing to drop).
    """
    global _status
    if not grader_is_root():
        return False, ""
    with _lock:
        if _status is None:
            _status = _probe()
        return _status


def worker_identity() -> Optional[Tuple[int, int]]:
    """The ``(uid, gid)`` a process-mode worker drops to, or None (grader not root, or cannot drop).

    A root grader that cannot drop warns once on stderr; the results say it too (``describe``).
    """
    global _warned
    works, why = drop_status()
    if works:
        return DROP_UID, DROP_GID
    if why and not _warned:
        _warned = True
        print(f"warning: sandbox process: the worker runs AS ROOT because {why}. To fix: {FIX}.", file=sys.stderr)
    return None


def quiet_root_warning() -> None:
    """Do not print the workers-run-as-root warning in this process (a batch job: its parent did)."""
    global _warned
    _warned = True


def relocate(arg: str, submission: Path, copy: Path) -> str:
    """``arg`` with a leading ``submission`` path replaced by the private ``copy``."""
    for prefix in dict.fromkeys((str(submission), os.path.realpath(submission))):
        if arg == prefix:
            return str(copy)
        if arg.startswith(prefix + os.sep):
            return str(copy) + arg[len(prefix):]
    return arg
