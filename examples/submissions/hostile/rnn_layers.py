"""A hostile submission: floods the output, then tries to copy the reference solutions.

If the grader lets it read solutions/rnn_lstm/rnn_layers.py (the `process` sandbox does not hide
files; `bwrap` does), it runs the reference code as its own and would score on the RNN functions:
that is what the sandbox must prevent. Otherwise every function raises NotImplementedError.
"""
import os
import sys

# Megabytes of output: the grader must cap what it captures and keep going.
for _ in range(1024):
    sys.stdout.write("spam " * 200 + "\n")
sys.stdout.flush()


def _find_reference():
    starts = [os.getcwd(), os.path.dirname(os.path.abspath(__file__))]
    for start in starts:
        here = start
        for _ in range(8):
            candidate = os.path.join(here, "solutions", "rnn_lstm", "rnn_layers.py")
            if os.path.isfile(candidate):
                return candidate
            here = os.path.dirname(here)
    return None


def _not_implemented(*args, **kwargs):
    raise NotImplementedError("hostile submission: nothing stolen")


rnn_step_forward = rnn_step_backward = rnn_forward = rnn_backward = _not_implemented

try:
    _stolen = _find_reference()
    if _stolen:
        with open(_stolen, encoding="utf-8") as _handle:
            exec(compile(_handle.read(), "stolen", "exec"), globals())
        print("hostile: copied the reference from", _stolen)
except OSError:
    pass

# Read the grader's environment, looking for secrets (a clean environment has none).
print("hostile: environment keys seen:", sorted(os.environ)[:20])
