"""solutions/rnn_lstm checked without torch: central differences, truncation semantics, contract rules.

The numerical gradients here are computed by this file's own central-difference helper (not the
assignment's gradient_check.py), of L = sum(upstream * forward output), on shapes where every size
goes down to 1 and T up to 13, with every truncate value 1..T+1 and None.
"""
from __future__ import annotations

import copy
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

STEP = 1e-6
RTOL, ATOL = 1e-5, 1e-7  # central differences in float64 are good to ~1e-9 here; bugs are O(0.1)

SEQ_SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (1, 4, 1, 3), (3, 2, 2, 1), (2, 13, 3, 2)]  # (N, T, D, H)
STEP_SHAPES = [(1, 1, 1), (2, 4, 5), (3, 1, 2), (1, 3, 1)]  # (N, D, H)


def numerical_grads(loss: Callable[[], float], arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Central-difference gradient of ``loss()`` with respect to each array (perturbed in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            old = a[index]
            a[index] = old + STEP
            plus = loss()
            a[index] = old - STEP
            minus = loss()
            a[index] = old
            g[index] = (plus - minus) / (2 * STEP)
        grads.append(g)
    return grads


def assert_grads_close(analytic: Sequence[np.ndarray], numeric: Sequence[np.ndarray], names: Sequence[str], what: str) -> None:
    assert len(analytic) == len(numeric) == len(names)
    for a, n, name in zip(analytic, numeric, names):
        assert np.shape(a) == n.shape, f"{what} {name}: shape {np.shape(a)}, expected {n.shape}"
        np.testing.assert_allclose(a, n, rtol=RTOL, atol=ATOL, err_msg=f"{what}: {name} disagrees with central differences")


def rnn_inputs(rng: np.random.Generator, N: int, T: int, D: int, H: int, gates: int = 1) -> Dict[str, np.ndarray]:
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, gates * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, gates * H)) / np.sqrt(H),
        "b": rng.standard_normal(gates * H) * 0.5,
        "dh": rng.standard_normal((N, T, H)),
    }


def shape_id(shape: Tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


# --------------------------------------------------------------------------------------------
# step functions


@pytest.mark.parametrize("shape", STEP_SHAPES, ids=shape_id)
def test_rnn_step_backward_gradcheck(solutions, shape) -> None:
    N, D, H = shape
    rng = np.random.default_rng(1)
    x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)
    dnext_h = rng.standard_normal((N, H))
    rnn = solutions.rnn_layers
    _, cache = rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)
    analytic = rnn.rnn_step_backward(dnext_h, cache)
    numeric = numerical_grads(lambda: np.sum(rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)[0] * dnext_h), [x, prev_h, Wx, Wh, b])
    assert_grads_close(analytic, numeric, ["dx", "dprev_h", "dWx", "dWh", "db"], "rnn_step_backward")


@pytest.mark.parametrize("shape", STEP_SHAPES, ids=shape_id)
def test_lstm_step_backward_gradcheck(solutions, shape) -> None:
    N, D, H = shape
    rng = np.random.default_rng(2)
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)) * 0.5, rng.standard_normal(4 * H)
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    lstm = solutions.lstm_layers

    def loss() -> float:
        next_h, next_c, _ = lstm.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        return np.sum(next_h * dnext_h) + np.sum(next_c * dnext_c)

    _, _, cache = lstm.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    analytic = lstm.lstm_step_backward(dnext_h, dnext_c, cache)
    numeric = numerical_grads(loss, [x, prev_h, prev_c, Wx, Wh, b])
    assert_grads_close(analytic, numeric, ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"], "lstm_step_backward")


# --------------------------------------------------------------------------------------------
# sequences and truncated BPTT


def truncated_loss(forward: Callable, p: Dict[str, np.ndarray], entering: np.ndarray, truncate: Optional[int]) -> float:
    """sum(dh * h) with the state entering every chunk but the first held at its ``entering`` value.

    That is truncated BPTT's definition: perturbing a weight changes each chunk only through the
    chunk's own steps, never through the state handed over from the chunk before.
    """
    T = p["x"].shape[1]
    k = T if truncate is None else truncate
    total = 0.0
    for start in range(0, T, k):
        h_in = p["h0"] if start == 0 else entering[:, start - 1]
        h, _ = forward(p["x"][:, start : start + k], h_in, p["Wx"], p["Wh"], p["b"])
        total += np.sum(h * p["dh"][:, start : start + k])
    return total


def truncate_params() -> List:
    return [pytest.param(shape, k, id=f"{shape_id(shape)}-k{k}") for shape in SEQ_SHAPES for k in [None, *range(1, shape[1] + 2)]]


@pytest.mark.parametrize("shape, truncate", truncate_params())
def test_rnn_backward_gradcheck_every_truncate(solutions, shape, truncate) -> None:
    rnn = solutions.rnn_layers
    p = rnn_inputs(np.random.default_rng(3), *shape)
    h, cache = rnn.rnn_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    entering = h.copy()
    analytic = rnn.rnn_backward(p["dh"], cache, truncate=truncate)
    numeric = numerical_grads(lambda: truncated_loss(rnn.rnn_forward, p, entering, truncate), [p[k] for k in ("x", "h0", "Wx", "Wh", "b")])
    assert_grads_close(analytic, numeric, ["dx", "dh0", "dWx", "dWh", "db"], f"rnn_backward(truncate={truncate})")


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=shape_id)
def test_rnn_backward_truncated_equals_chunk_by_chunk(solutions, shape) -> None:
    """truncate=k equals rnn_forward/rnn_backward run per chunk, weight gradients summed."""
    rnn = solutions.rnn_layers
    p = rnn_inputs(np.random.default_rng(4), *shape)
    N, T, D, H = shape
    _, cache = rnn.rnn_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    for k in range(1, T + 2):
        dx, dh0, dWx, dWh, db = rnn.rnn_backward(p["dh"], cache, truncate=k)
        expected_dx, sums, state = [], [np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)], p["h0"]
        for start in range(0, T, k):
            h_chunk, chunk_cache = rnn.rnn_forward(p["x"][:, start : start + k], state, p["Wx"], p["Wh"], p["b"])
            cdx, cdh0, *cgrads = rnn.rnn_backward(p["dh"][:, start : start + k], chunk_cache)
            expected_dx.append(cdx)
            sums = [s + g for s, g in zip(sums, cgrads)]
            if start == 0:
                expected_dh0 = cdh0
            state = h_chunk[:, -1]
        what = f"rnn_backward(truncate={k}) vs chunk by chunk"
        np.testing.assert_allclose(dx, np.concatenate(expected_dx, axis=1), rtol=1e-10, atol=1e-12, err_msg=f"{what}: dx")
        np.testing.assert_allclose(dh0, expected_dh0, rtol=1e-10, atol=1e-12, err_msg=f"{what}: dh0")
        for got, want, name in zip((dWx, dWh, db), sums, ("dWx", "dWh", "db")):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{what}: {name}")


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=shape_id)
def test_rnn_backward_truncate_at_least_T_is_full_bptt(solutions, shape) -> None:
    rnn = solutions.rnn_layers
    p = rnn_inputs(np.random.default_rng(5), *shape)
    T = shape[1]
    _, cache = rnn.rnn_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    full = rnn.rnn_backward(p["dh"], cache)
    for k in (T, T + 1, 10 * T):
        for got, want, name in zip(rnn.rnn_backward(p["dh"], cache, truncate=k), full, ("dx", "dh0", "dWx", "dWh", "db")):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=f"truncate={k} (T={T}) should be full BPTT: {name}")
    if T > 1:  # a real truncation must differ somewhere, or the test above proves nothing
        truncated = rnn.rnn_backward(p["dh"], cache, truncate=1)
        assert not np.allclose(truncated[2], full[2]), "truncate=1 gave the full-BPTT dWx"


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=shape_id)
def test_lstm_backward_gradcheck(solutions, shape) -> None:
    lstm = solutions.lstm_layers
    p = rnn_inputs(np.random.default_rng(6), *shape, gates=4)
    _, cache = lstm.lstm_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    analytic = lstm.lstm_backward(p["dh"], cache)
    loss = lambda: np.sum(lstm.lstm_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])[0] * p["dh"])  # noqa: E731
    numeric = numerical_grads(loss, [p[k] for k in ("x", "h0", "Wx", "Wh", "b")])
    assert_grads_close(analytic, numeric, ["dx", "dh0", "dWx", "dWh", "db"], "lstm_backward")


# --------------------------------------------------------------------------------------------
# deep layers


def layer(rng: np.random.Generator, cell: str, D: int, H: int) -> Dict[str, np.ndarray]:
    g = 4 if cell == "lstm" else 1
    return {"Wx": rng.standard_normal((D, g * H)) / np.sqrt(D), "Wh": rng.standard_normal((H, g * H)) / np.sqrt(H), "b": rng.standard_normal(g * H) * 0.5}


STACKS = [("rnn", 1, 1, 1, (1,)), ("rnn", 2, 4, 3, (2, 3)), ("lstm", 1, 1, 1, (1, 1)), ("lstm", 2, 3, 2, (3, 1, 2)), ("rnn", 1, 12, 2, (2, 2))]


@pytest.mark.parametrize("cell, N, T, D, widths", STACKS, ids=lambda v: str(v))
def test_stacked_backward_gradcheck(solutions, cell, N, T, D, widths) -> None:
    deep = solutions.deep_layers
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, T, D))
    h0s = [rng.standard_normal((N, H)) for H in widths]
    params = [layer(rng, cell, i, H) for i, H in zip([D, *widths[:-1]], widths)]
    dh = rng.standard_normal((N, T, widths[-1]))
    _, cache = deep.stacked_forward(x, h0s, params, cell=cell)
    dx, dh0s, grads = deep.stacked_backward(dh, cache)
    flat = [x, *h0s, *[p[k] for p in params for k in ("Wx", "Wh", "b")]]
    analytic = [dx, *dh0s, *[g[k] for g in grads for k in ("Wx", "Wh", "b")]]
    names = ["dx", *[f"dh0s[{l}]" for l in range(len(widths))], *[f"grads[{l}][{k!r}]" for l in range(len(widths)) for k in ("Wx", "Wh", "b")]]
    numeric = numerical_grads(lambda: np.sum(deep.stacked_forward(x, h0s, params, cell=cell)[0] * dh), flat)
    assert_grads_close(analytic, numeric, names, f"stacked_backward({cell})")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 3, 2), (1, 12, 1, 1)], ids=shape_id)
def test_bidirectional_backward_gradcheck(solutions, cell, shape) -> None:
    deep = solutions.deep_layers
    N, T, D, H = shape
    rng = np.random.default_rng(8)
    x, h0_f, h0_b = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    p_f, p_b = layer(rng, cell, D, H), layer(rng, cell, D, H)
    dh = rng.standard_normal((N, T, 2 * H))
    _, cache = deep.bidirectional_forward(x, h0_f, h0_b, p_f, p_b, cell=cell)
    dx, dh0_f, dh0_b, g_f, g_b = deep.bidirectional_backward(dh, cache)
    keys = ("Wx", "Wh", "b")
    flat = [x, h0_f, h0_b, *[p_f[k] for k in keys], *[p_b[k] for k in keys]]
    analytic = [dx, dh0_f, dh0_b, *[g_f[k] for k in keys], *[g_b[k] for k in keys]]
    names = ["dx", "dh0_f", "dh0_b", *[f"grads_f[{k!r}]" for k in keys], *[f"grads_b[{k!r}]" for k in keys]]
    numeric = numerical_grads(lambda: np.sum(deep.bidirectional_forward(x, h0_f, h0_b, p_f, p_b, cell=cell)[0] * dh), flat)
    assert_grads_close(analytic, numeric, names, f"bidirectional_backward({cell})")


# --------------------------------------------------------------------------------------------
# gradient flow


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("shape, scale", [((1, 1, 1, 1), 1.0), ((2, 6, 3, 2), 0.5), ((2, 13, 2, 3), 1.5)], ids=lambda v: str(v))
def test_hidden_grad_norms_gradcheck(solutions, cell, shape, scale) -> None:
    """norms[t] = ||dL/dh_t|| with L = sum(h_{T-1}), h_t perturbed directly (c_t held fixed)."""
    N, T, D, H = shape
    p = rnn_inputs(np.random.default_rng(9), N, T, D, H, gates=4 if cell == "lstm" else 1)
    p["Wh"] *= scale
    rnn, lstm = solutions.rnn_layers, solutions.lstm_layers
    states = [(p["h0"], np.zeros((N, H)))]
    for t in range(T):
        h, c = states[-1]
        if cell == "rnn":
            states.append((rnn.rnn_step_forward(p["x"][:, t], h, p["Wx"], p["Wh"], p["b"])[0], c))
        else:
            states.append(lstm.lstm_step_forward(p["x"][:, t], h, c, p["Wx"], p["Wh"], p["b"])[:2])

    def last_state_sum(t: int, h_t: np.ndarray) -> float:
        h, c = h_t, states[t + 1][1]
        for s in range(t + 1, T):
            if cell == "rnn":
                h = rnn.rnn_step_forward(p["x"][:, s], h, p["Wx"], p["Wh"], p["b"])[0]
            else:
                h, c, _ = lstm.lstm_step_forward(p["x"][:, s], h, c, p["Wx"], p["Wh"], p["b"])
        return float(np.sum(h))

    expected = []
    for t in range(T):
        h_t = states[t + 1][0].copy()
        (g,) = numerical_grads(lambda: last_state_sum(t, h_t), [h_t])
        expected.append(np.linalg.norm(g))
    norms = solutions.gradient_flow.hidden_grad_norms(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], cell=cell)
    assert norms.shape == (T,)
    np.testing.assert_allclose(norms, expected, rtol=RTOL, atol=ATOL, err_msg=f"hidden_grad_norms({cell})")
    assert norms[-1] == pytest.approx(np.sqrt(N * H), rel=1e-12)


def test_clip_grad_norm_boundaries(solutions) -> None:
    clip = solutions.gradient_flow.clip_grad_norm
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    clipped, total = clip(grads, 5.0)  # total == max_norm: unchanged
    assert total == 5.0 and clipped["a"][0] == 3.0 and clipped["b"][0, 0] == 4.0
    clipped, total = clip(grads, 2.5)
    assert total == 5.0 and clipped["a"][0] == pytest.approx(1.5) and clipped["b"][0, 0] == pytest.approx(2.0)
    clipped, total = clip(grads, 0.0)
    assert total == 5.0 and not np.any(clipped["a"]) and not np.any(clipped["b"])
    clipped, total = clip({"z": np.zeros(3)}, 0.0)
    assert total == 0.0 and not np.any(np.isnan(clipped["z"]))


grad_dicts = st.dictionaries(
    st.sampled_from(["Wx", "Wh", "b", "W2"]),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-1e3, 1e3)),
    min_size=1,
)


@settings(max_examples=60, deadline=None)
@given(grads=grad_dicts, max_norm=st.floats(0.0, 1e3))
def test_clip_grad_norm_properties(solutions, grads, max_norm) -> None:
    before = copy.deepcopy(grads)
    clipped, total = solutions.gradient_flow.clip_grad_norm(grads, max_norm)
    expected_total = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))
    assert type(total) is float
    assert total == pytest.approx(expected_total, rel=1e-12, abs=1e-300)
    assert set(clipped) == set(grads)
    scale = max_norm / expected_total if expected_total > max_norm else 1.0
    for key, g in grads.items():
        np.testing.assert_array_equal(g, before[key], err_msg="clip_grad_norm modified its input")
        assert clipped[key] is not g and not np.shares_memory(clipped[key], g), "clipped must hold new arrays"
        assert type(clipped[key]) is np.ndarray and clipped[key].shape == g.shape
        np.testing.assert_allclose(clipped[key], g * scale, rtol=1e-12, atol=1e-300)


# --------------------------------------------------------------------------------------------
# contract rules: no input modified, plain arrays of the right shapes, bad cell names


def call_everything(m, N: int, T: int, D: int, H: int) -> Tuple[Dict[str, object], Dict[str, object]]:
    """Call all 14 graded functions once; return (every input, every output) by name."""
    rng = np.random.default_rng(10)
    r, l4 = rnn_inputs(rng, N, T, D, H), rnn_inputs(rng, N, T, D, H, gates=4)
    inputs: Dict[str, object] = {"r": r, "l4": l4, "c0": rng.standard_normal((N, H)), "dc": rng.standard_normal((N, H))}
    inputs["stack"] = [layer(rng, "lstm", D, H), layer(rng, "lstm", H, 2)]
    inputs["stack_h0"] = [rng.standard_normal((N, H)), rng.standard_normal((N, 2))]
    inputs["dstack"] = rng.standard_normal((N, T, 2))
    inputs["bi"] = (layer(rng, "rnn", D, H), layer(rng, "rnn", D, H), rng.standard_normal((N, T, 2 * H)))
    inputs["grads"] = {"Wx": rng.standard_normal((D, H)), "b": rng.standard_normal(H)}
    snapshot = copy.deepcopy(inputs)
    out: Dict[str, object] = {}
    x0 = r["x"][:, 0]
    out["rnn_step_forward"] = m.rnn_layers.rnn_step_forward(x0, r["h0"], r["Wx"], r["Wh"], r["b"])
    out["rnn_step_backward"] = m.rnn_layers.rnn_step_backward(r["dh"][:, 0], out["rnn_step_forward"][1])
    out["rnn_forward"] = m.rnn_layers.rnn_forward(r["x"], r["h0"], r["Wx"], r["Wh"], r["b"])
    out["rnn_backward"] = m.rnn_layers.rnn_backward(r["dh"], out["rnn_forward"][1])
    out["rnn_backward_truncated"] = m.rnn_layers.rnn_backward(r["dh"], out["rnn_forward"][1], truncate=1)
    out["lstm_step_forward"] = m.lstm_layers.lstm_step_forward(l4["x"][:, 0], l4["h0"], inputs["c0"], l4["Wx"], l4["Wh"], l4["b"])
    out["lstm_step_backward"] = m.lstm_layers.lstm_step_backward(l4["dh"][:, 0], inputs["dc"], out["lstm_step_forward"][2])
    out["lstm_forward"] = m.lstm_layers.lstm_forward(l4["x"], l4["h0"], l4["Wx"], l4["Wh"], l4["b"])
    out["lstm_backward"] = m.lstm_layers.lstm_backward(l4["dh"], out["lstm_forward"][1])
    out["stacked_forward"] = m.deep_layers.stacked_forward(r["x"], inputs["stack_h0"], inputs["stack"], cell="lstm")
    out["stacked_backward"] = m.deep_layers.stacked_backward(inputs["dstack"], out["stacked_forward"][1])
    p_f, p_b, dbi = inputs["bi"]
    out["bidirectional_forward"] = m.deep_layers.bidirectional_forward(r["x"], r["h0"], inputs["c0"], p_f, p_b, cell="rnn")
    out["bidirectional_backward"] = m.deep_layers.bidirectional_backward(dbi, out["bidirectional_forward"][1])
    out["hidden_grad_norms"] = m.gradient_flow.hidden_grad_norms(l4["x"], l4["h0"], l4["Wx"], l4["Wh"], l4["b"], cell="lstm")
    out["clip_grad_norm"] = m.gradient_flow.clip_grad_norm(inputs["grads"], 1e-3)
    return {"now": inputs, "before": snapshot}, out


def assert_same_structure(now, before, path: str) -> None:
    if isinstance(before, dict):
        assert isinstance(now, dict) and set(now) == set(before), f"{path}: dict keys changed"
        for key in before:
            assert_same_structure(now[key], before[key], f"{path}[{key!r}]")
    elif isinstance(before, (list, tuple)):
        assert type(now) is type(before) and len(now) == len(before), f"{path}: list changed"
        for i, (a, b) in enumerate(zip(now, before)):
            assert_same_structure(a, b, f"{path}[{i}]")
    else:
        np.testing.assert_array_equal(now, before, err_msg=f"{path} was modified in place")


SHAPES_FOR_RULES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 12, 2, 1)]


@pytest.mark.parametrize("shape", SHAPES_FOR_RULES, ids=shape_id)
def test_no_input_is_modified(solutions, shape) -> None:
    state, _ = call_everything(solutions, *shape)
    assert_same_structure(state["now"], state["before"], "inputs")


@pytest.mark.parametrize("shape", SHAPES_FOR_RULES, ids=shape_id)
def test_outputs_are_plain_arrays_of_the_contracted_shapes(solutions, shape) -> None:
    N, T, D, H = shape
    _, out = call_everything(solutions, *shape)
    expected = {
        "rnn_step_forward": [(N, H)],
        "rnn_step_backward": [(N, D), (N, H), (D, H), (H, H), (H,)],
        "rnn_forward": [(N, T, H)],
        "rnn_backward": [(N, T, D), (N, H), (D, H), (H, H), (H,)],
        "rnn_backward_truncated": [(N, T, D), (N, H), (D, H), (H, H), (H,)],
        "lstm_step_forward": [(N, H), (N, H)],
        "lstm_step_backward": [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)],
        "lstm_forward": [(N, T, H)],
        "lstm_backward": [(N, T, D), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)],
        "stacked_forward": [(N, T, 2)],
        "bidirectional_forward": [(N, T, 2 * H)],
    }
    for name, shapes in expected.items():
        result = out[name]
        assert isinstance(result, tuple), f"{name} should return a tuple"
        for i, want in enumerate(shapes):
            got = result[i]
            assert type(got) is np.ndarray and got.dtype == np.float64, f"{name}[{i}]: {type(got).__name__} {getattr(got, 'dtype', '')}"
            assert got.shape == want, f"{name}[{i}]: shape {got.shape}, contract says {want}"
    dx, dh0s, grads = out["stacked_backward"]
    assert dx.shape == (N, T, D) and [a.shape for a in dh0s] == [(N, H), (N, 2)]
    assert [{k: v.shape for k, v in g.items()} for g in grads] == [
        {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)},
        {"Wx": (H, 8), "Wh": (2, 8), "b": (8,)},
    ]
    dx, dh0_f, dh0_b, g_f, g_b = out["bidirectional_backward"]
    assert dx.shape == (N, T, D) and dh0_f.shape == dh0_b.shape == (N, H)
    assert all({k: v.shape for k, v in g.items()} == {"Wx": (D, H), "Wh": (H, H), "b": (H,)} for g in (g_f, g_b))
    for arrays in (dh0s, [dh0_f, dh0_b], [v for g in (*grads, g_f, g_b) for v in g.values()]):
        assert all(type(a) is np.ndarray and a.dtype == np.float64 for a in arrays)
    norms = out["hidden_grad_norms"]
    assert type(norms) is np.ndarray and norms.shape == (T,) and norms.dtype == np.float64
    clipped, total = out["clip_grad_norm"]
    assert type(total) is float and all(type(v) is np.ndarray for v in clipped.values())


@pytest.mark.parametrize("bad", ["gru", "RNN", "", None, 1])
def test_bad_cell_name_raises_value_error(solutions, bad) -> None:
    rng = np.random.default_rng(11)
    x, h0 = rng.standard_normal((1, 2, 2)), rng.standard_normal((1, 2))
    p = layer(rng, "rnn", 2, 2)
    deep, flow = solutions.deep_layers, solutions.gradient_flow
    with pytest.raises(ValueError):
        deep.stacked_forward(x, [h0], [p], cell=bad)
    with pytest.raises(ValueError):
        deep.bidirectional_forward(x, h0, h0, p, p, cell=bad)
    with pytest.raises(ValueError):
        flow.hidden_grad_norms(x, h0, p["Wx"], p["Wh"], p["b"], cell=bad)


# --------------------------------------------------------------------------------------------
# the provided helpers (not graded, but students rely on them)


def test_eval_numerical_gradient_array_matches_and_restores_x(solutions) -> None:
    gc = solutions.gradient_check
    rng = np.random.default_rng(12)
    x, W, df = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    x_before = x.copy()
    numeric = gc.eval_numerical_gradient_array(lambda v: np.tanh(v @ W), x, df)
    np.testing.assert_array_equal(x, x_before, err_msg="eval_numerical_gradient_array left x modified")
    analytic = (df * (1 - np.tanh(x @ W) ** 2)) @ W.T
    np.testing.assert_allclose(numeric, analytic, rtol=1e-6, atol=1e-9)
    scalar = gc.eval_numerical_gradient(lambda v: float(np.sum(v**3)), x)
    np.testing.assert_allclose(scalar, 3 * x**2, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(x, x_before)


def test_rel_error(solutions) -> None:
    rel_error = solutions.gradient_check.rel_error
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert type(rel_error(np.ones(1), np.ones(1))) is float


def test_cell_functions(solutions) -> None:
    m = solutions
    assert m.deep_layers.cell_functions("rnn") == (m.rnn_layers.rnn_forward, m.rnn_layers.rnn_backward)
    assert m.deep_layers.cell_functions("lstm") == (m.lstm_layers.lstm_forward, m.lstm_layers.lstm_backward)
    with pytest.raises(ValueError, match="gru"):
        m.deep_layers.cell_functions("gru")
