"""Facts the rnn_lstm pack adds to localization: outputs of a cell tied to each other by the contract.

When the student's outputs still satisfy the tie, the error lives upstream of it (in next_c for
the LSTM step; in da = dL/da for the RNN step's gradients). See :mod:`autograder.engine.localize`.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from autograder.engine.localize import Case, agree


def lstm_gates(case: Case) -> Tuple[np.ndarray, ...]:
    i = case.inputs
    a = i["x"] @ i["Wx"] + i["prev_h"] @ i["Wh"] + i["b"]
    H = case.size["H"]
    sig = lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))  # noqa: E731 - the logistic sigmoid, overflow-free
    return sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])


def lstm_h_follows_c(case: Case) -> Tuple[str, Tuple[str, ...]]:
    """next_c is wrong but next_h = o ⊙ tanh(next_c) holds with the student's next_c."""
    act = case.actual
    if "next_h" not in act or "next_c" not in act or agree(act["next_c"], case.expected["next_c"]):
        return "h_follows_c", ()  # (a test that judges next_c alone, the carousel, cannot show the tie)
    o = lstm_gates(case)[3]
    ok = agree(act["next_h"], o * np.tanh(act["next_c"]))
    return "h_follows_c", ("next_c", "next_h") if ok else ()


def rnn_one_da(case: Case) -> Tuple[str, Tuple[str, ...]]:
    """All five gradients come from one (wrong) da: dx = da Wxᵀ, dprev_h = da Whᵀ, dWx = xᵀ da, ..."""
    i, act = case.inputs, case.actual
    if any(n not in act for n in ("dx", "dprev_h", "dWx", "dWh", "db")):
        return "one_da", ()
    M = np.concatenate([i["Wx"].T, i["Wh"].T], axis=1)  # (H, D + H): da @ M = [dx | dprev_h]
    if np.linalg.matrix_rank(M) < M.shape[0]:
        return "one_da", ()
    da = np.concatenate([act["dx"], act["dprev_h"]], axis=1) @ np.linalg.pinv(M)
    implied = {"dx": da @ i["Wx"].T, "dprev_h": da @ i["Wh"].T, "dWx": i["x"].T @ da, "dWh": i["prev_h"].T @ da,
               "db": da.sum(axis=0)}
    ok = all(agree(act[n], v) for n, v in implied.items())
    return "one_da", tuple(implied) if ok else ()


FACTS = {"lstm_step_forward": (lstm_h_follows_c,), "rnn_step_backward": (rnn_one_da,)}
FACT_CHECKS = {"h_follows_c": lstm_h_follows_c, "one_da": rnn_one_da}
