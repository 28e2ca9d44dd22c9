"""Step 8: gradient flow through time (gradient_flow.py: hidden_grad_norms, then clip_grad_norm)."""
import numpy as np
import pytest

from gradient_flow import clip_grad_norm, hidden_grad_norms
from rnn_lstm_testing import call_forward, check_close, check_unchanged, golden, random_arrays, require_unchanged, snapshot


@pytest.mark.parametrize("case", golden("grad_norms"))
def test_hidden_grad_norms_matches_torch(case):
    """torch: L = h_{T-1}.sum(), retain_grad() on every h_t, norms[t] = ||h_t.grad||."""
    cell = str(case["cell"])
    require_unchanged(cell, "hidden_grad_norms")
    norms = call_forward(hidden_grad_norms, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], cell=cell)
    N, H = case["h0"].shape
    check_close(norms, case["norms"], f"hidden_grad_norms({cell})", f"norms[T-1] = sqrt(N*H) = {np.sqrt(N * H):.4f}; go back one step at a time" + (" through both h and c." if cell == "lstm" else "."))


def test_hidden_grad_norms_vanish_for_small_recurrent_weights():
    (case,) = [p.values[0] for p in golden("grad_norms") if p.id.startswith("rnn_vanishing")]
    norms = hidden_grad_norms(case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], cell="rnn")
    assert norms[0] < 1e-3 * norms[-1], f"with a small Wh the gradient reaching h_0 should be tiny; your norms: {np.array2string(norms, precision=3)}"


def test_hidden_grad_norms_rejects_unknown_cell():
    a = random_arrays(17, x=(1, 2, 2), h0=(1, 2), Wx=(2, 2), Wh=(2, 2), b=(2,))
    with pytest.raises(ValueError):
        hidden_grad_norms(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], cell="gru")


@pytest.mark.parametrize("case", golden("clip"))
def test_clip_grad_norm_matches_torch(case):
    names = [str(n) for n in case["names"]]
    grads = {name: case[f"g_{name}"] for name in names}
    before = snapshot(grads)
    clipped, total_norm = clip_grad_norm(grads, float(case["max_norm"]))
    check_unchanged(before, [grads], "clip_grad_norm")
    assert isinstance(total_norm, float), f"total_norm should be a Python float, got {type(total_norm).__name__}"
    assert total_norm == pytest.approx(float(case["total_norm"]), rel=1e-9), "total_norm is the L2 norm of all the arrays together"
    assert sorted(clipped) == sorted(names), "clipped has the same keys as grads"
    for name in names:
        assert clipped[name] is not grads[name], "clipped must hold new arrays"
        check_close(clipped[name], case[f"clipped_{name}"], f"clip_grad_norm: clipped[{name!r}]", "Scale every array by max_norm / total_norm, only if total_norm > max_norm.")


def test_clip_grad_norm_at_the_boundary_is_unchanged():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}  # total norm exactly 5
    clipped, total_norm = clip_grad_norm(grads, 5.0)
    assert total_norm == 5.0, f"total_norm of [3] and [[4]] is 5, you returned {total_norm}"
    check_close(clipped["a"], np.array([3.0]), "clip_grad_norm(max_norm == total_norm): clipped['a']", "Clip only when total_norm > max_norm.")
    check_close(clipped["b"], np.array([[4.0]]), "clip_grad_norm(max_norm == total_norm): clipped['b']", "Clip only when total_norm > max_norm.")
