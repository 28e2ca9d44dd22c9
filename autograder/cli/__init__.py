"""``python -m autograder COMMAND``: one sub-command per module in :mod:`autograder.cli`.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``,
the way pytest plugins contribute hooks: adding a command is adding a module to ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from autograder.engine import pack

COMMANDS = ("release", "grade", "grade_all", "mutation", "bench", "bundle", "gradebook", "similarity", "draws",
            "formative_check")
# Commands whose default sandbox tries bubblewrap: its trial run starts before the commands are
# imported (most of a grading's start-up), and runs beside them.
PROBE_FIRST = ("grade", "grade-all")


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only`` (its module alone is imported: the
    others' imports would slow its start)."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--pack", metavar="NAME_OR_FOLDER",
                        help=f"the assignment pack to grade (a built-in pack's name, or a folder with a pack.py; "
                             f"default: ${pack.ENV} or {pack.DEFAULT})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f".{name}", __package__)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def _command_module(argv: List[str]) -> Optional[str]:
    """The module of the command ``argv`` starts with (``grade-all``: ``grade_all``; a command's
    name is its module's, dashed), or None (help, or no such command: every command is listed)."""
    if not argv or argv[0].startswith("-"):
        return None
    module = argv[0].replace("-", "_")
    return module if module in COMMANDS and module.replace("_", "-") == argv[0] else None


def _sandboxes_asked(argv: List[str]) -> List[str]:
    """The values ``argv`` gives ``--sandbox`` (``--sandbox X`` or ``--sandbox=X``), in order, read before
    parsing (the last one counts, as for argparse)."""
    return [b if a == "--sandbox" else a.split("=", 1)[1] for a, b in zip(argv, argv[1:] + [""])
            if a == "--sandbox" or a.startswith("--sandbox=")]


def _will_probe(argv: List[str]) -> bool:
    """Whether ``argv`` runs a command that will need bubblewrap's trial run (not with --sandbox process)."""
    return (bool(argv) and argv[0] in PROBE_FIRST and "process" not in _sandboxes_asked(argv) and "-h" not in argv
            and "--help" not in argv)


def _prestart_worker(argv: List[str]) -> bool:
    """For ``grade SUBMISSION``: start its worker now, beside the imports of the grading engine
    (:mod:`autograder.worker.launch`); the grading claims it. True when one started."""
    if argv[:1] != ["grade"] or "-h" in argv or "--help" in argv:
        return False
    positional, rest = [], iter(argv[1:])
    for arg in rest:
        if arg in ("--results", "--feedback", "--sandbox"):
            next(rest, "")  # its value
        elif not arg.startswith("-"):
            positional.append(arg)
    if len(positional) == 1 and Path(positional[0]).is_dir():
        from autograder.sandbox.limits import GRADING
        from autograder.worker import launch
        return launch.prestart(Path(positional[0]), (_sandboxes_asked(argv) or ["auto"])[-1], GRADING)
    return False


def _take_pack(argv: List[str]) -> Tuple[List[str], Optional[str]]:
    """``argv`` without the global ``--pack NAME`` (or ``--pack=NAME``) before the command, and NAME."""
    if argv[:1] == ["--pack"] and len(argv) > 1:
        return argv[2:], argv[1]
    if argv[:1] and argv[0].startswith("--pack="):
        return argv[1:], argv[0].split("=", 1)[1]
    return argv, None


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    argv, chosen = _take_pack(argv)
    if chosen is not None:  # before the commands are imported: their defaults are the pack's
        try:
            pack.use(chosen)
        except pack.PackError as exc:
            print(f"python -m autograder: {exc}", file=sys.stderr)
            return 2
    if not _prestart_worker(argv) and _will_probe(argv):  # a worker started in bwrap is its own trial run
        from autograder.sandbox import registry as sandbox_registry
        sandbox_registry.probe_in_background()
    args = build_parser(_command_module(argv)).parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
