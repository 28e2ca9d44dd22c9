"""The private, world-readable copy of a submission that a worker reads (both backends).

The worker's uid must be able to read the submission whatever its permissions (files extracted by
root with mode 600, say), and nothing the submission links to may come along: bwrap mounts the copy
at ``/submission``; process mode, when the grader is root, runs its dropped worker on it.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from autograder.sandbox.limits import Limits

_DEFAULT = Limits()


def copy_submission(source: Path, *, max_files: int = _DEFAULT.submission_files,
                    max_bytes: int = _DEFAULT.submission_bytes) -> Path:
    """A world-readable copy of ``source`` in a fresh temporary directory (the caller removes it).

    Symlinks are copied as symlinks, never followed: one pointing to ``solutions/`` dangles inside
    the sandbox. Special files are skipped; the copy stops at ``max_files`` files or ``max_bytes``
    bytes (:attr:`Limits.submission_files <autograder.sandbox.limits.Limits>`, ``submission_bytes``).
    """
    target = Path(tempfile.mkdtemp(prefix="sandbox-submission-"))
    os.chmod(target, 0o755)
    files = 0
    size = 0
    for root, dirs, names in os.walk(source, followlinks=False):
        rel = os.path.relpath(root, source)
        here = target if rel == "." else target / rel
        for name in list(dirs):
            src = os.path.join(root, name)
            if os.path.islink(src):
                dirs.remove(name)
                names.append(name)  # copied as a link below
            else:
                os.mkdir(here / name, 0o755)
        for name in names:
            src = os.path.join(root, name)
            if files >= max_files:
                return target
            try:
                if os.path.islink(src):
                    os.symlink(os.readlink(src), here / name)
                    continue
                fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                data = handle.read(max_bytes - size + 1)
            if size + len(data) > max_bytes:
                return target
            size += len(data)
            files += 1
            (here / name).write_bytes(data)
            os.chmod(here / name, 0o644)
    return target
