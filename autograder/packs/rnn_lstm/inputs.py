"""The inputs of the rnn_lstm pack: size profiles and structured ("special") inputs.

**Specials** are structured inputs on which many wrong forward functions are right: zero initial
states (a forward that ignores ``h0``, or starts the LSTM cell from ``h0``), zero biases, and LSTM
gate blocks that are equal (a forward that orders the gates differently). A backward function whose
forward is wrong on every ordinary input is judged on such inputs when its forward is right there
(:mod:`autograder.engine.dependencies`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

# Size ranges per profile: (low, high) for each symbol.
PROFILES: Dict[str, Dict[str, Tuple[int, int]]] = {
    "general": {"N": (1, 3), "T": (1, 8), "D": (1, 4), "H": (1, 4), "L": (1, 3)},
    # S: 0-d arrays in a gradient dict (boundary examples only: strategies.boundary_examples)
    "edge": {"N": (1, 2), "T": (1, 2), "D": (1, 2), "H": (1, 2), "L": (1, 2), "S": (0, 1)},
    "long": {"N": (1, 2), "T": (12, 24), "D": (1, 3), "H": (1, 3), "L": (1, 2)},
    "realistic": {"N": (8, 16), "T": (30, 36), "D": (8, 16), "H": (8, 16), "L": (2, 3)},
}

# Profiles whose tests also run the boundary examples (the others draw large sizes on purpose).
BOUNDARY_PROFILES: Tuple[str, ...] = ("general", "edge")

# Structured inputs on which many wrong forward functions are right (see the module docstring).
SPECIALS: Tuple[str, ...] = ("zero_state", "zero_bias", "equal_gates", "input_shut", "zero_state+zero_bias",
                             "zero_state+equal_gates")
CELL_SPECIALS = {"equal_gates": ("lstm",), "input_shut": ("lstm",)}  # the others apply to every cell


STATE_NAMES = ("h0", "prev_h", "prev_c", "h0s", "h0_f", "h0_b")
PARAM_NAMES = ("params", "params_f", "params_b")


def apply_special(special: str, inputs: Dict[str, Any], cell: str) -> None:
    """Make ``inputs`` structured in place: zero states, zero biases, or equal LSTM gate blocks."""
    def zero(value: Any) -> Any:
        return [np.zeros_like(v) for v in value] if isinstance(value, list) else np.zeros_like(value)

    def weight_sets() -> List[Dict[str, Any]]:
        sets = [inputs] if "b" in inputs else []
        for name in PARAM_NAMES:
            value = inputs.get(name)
            sets += value if isinstance(value, list) else ([value] if isinstance(value, dict) else [])
        return sets

    if special == "zero_state":
        for name in STATE_NAMES:
            if name in inputs:
                inputs[name] = zero(inputs[name])
    elif special == "zero_bias":
        for params in weight_sets():
            params["b"] = np.zeros_like(params["b"])
    elif special == "equal_gates" and cell == "lstm":
        for params in weight_sets():
            for key in ("Wx", "Wh", "b"):
                quarter = params[key].shape[-1] // 4
                params[key] = np.concatenate([params[key][..., :quarter]] * 4, axis=-1)
    elif special == "input_shut" and cell == "lstm":
        for params in weight_sets():  # i = sigmoid(-60) ~ 1e-26: the candidate g is not written into c
            hidden = params["Wh"].shape[0]
            params["Wx"] = params["Wx"].copy()
            params["Wh"] = params["Wh"].copy()
            params["b"] = params["b"].copy()
            params["Wx"][:, :hidden] = 0.0
            params["Wh"][:, :hidden] = 0.0
            params["b"][:hidden] = -60.0
    elif special not in CELL_SPECIALS:
        raise ValueError(f"unknown special {special!r}")


SPECIAL_WORDS = {"zero_state": "zero initial states", "zero_bias": "zero biases",
                 "equal_gates": "equal LSTM gate blocks", "input_shut": "the LSTM input gate shut"}
