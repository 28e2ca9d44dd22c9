"""Refusing to grade where nothing contains student code (no bubblewrap, no Landlock, no seccomp).

``grade`` and ``grade-all`` print :func:`refusal`'s message and stop, unless the TA passes
:data:`UNSAFE_FLAG` (for code they trust).
"""
from __future__ import annotations

from autograder.sandbox import registry

UNSAFE_FLAG = "--unsafe-no-sandbox"


def unconfined(mode: str) -> str:
    """Why untrusted code would run with NO containment at all in ``mode`` ("" when some applies).

    No containment: process mode (asked for, or ``auto`` without bubblewrap) where the kernel
    gives neither Landlock nor seccomp (macOS, Windows, old or locked-down kernels).
    """
    chosen = registry.resolve(mode)
    why = chosen.uncontained()
    if not why:
        return ""
    skipped = registry.passed_over(chosen, probe=True) if mode == "auto" else []
    return "; ".join([f"{b.label}: {reason}" for b, reason in skipped] + [why])


def refusal(mode: str) -> str:
    """The message of a grader that refuses to run student code without containment ("" if it has some)."""
    why = unconfined(mode)
    if not why:
        return ""
    return (f"refusing to run untrusted student code: this machine offers no containment at all ({why}). "
            f"A submission would run as a plain process that can read, change and delete every file you can, "
            f"use the network and start programs. Grade on Gradescope, on a Linux machine (bubblewrap, or a "
            f"kernel with Landlock and seccomp), or in a Linux VM or container. To run it anyway on code you "
            f"trust, pass {UNSAFE_FLAG} (it gives up all of that protection).")
