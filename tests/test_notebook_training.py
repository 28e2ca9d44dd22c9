"""The notebook's provided helper module source/rnn_lstm/training.py: tasks, model, loss, optimiser.

It runs on top of the reference layers here (source/ is valid Python: the markers are comments).
The modules are imported under their assignment names, so the fixture (conftest.load_tree) removes
them from sys.modules afterwards and other tests importing a submission's ``rnn_layers`` are not affected.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import load_tree

from autograder.packs.rnn_lstm import SOURCE_DIR


@pytest.fixture(scope="module")
def tr():
    """The provided training.py of source/, on top of source/'s (reference) modules."""
    return load_tree(SOURCE_DIR, ("training",)).training


def _numeric_grad(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        pos = f()
        x[ix] = old - h
        neg = f()
        x[ix] = old
        grad[ix] = (pos - neg) / (2 * h)
    return grad


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def test_softmax_cross_entropy_value_and_gradient(tr):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 5))
    y = rng.integers(0, 5, size=(3, 4))
    loss, dlogits = tr.softmax_cross_entropy(logits, y)
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    expected = -np.mean(np.log(np.take_along_axis(probs, y[..., None], axis=-1)))
    assert abs(loss - expected) < 1e-12
    numeric = _numeric_grad(lambda: tr.softmax_cross_entropy(logits, y)[0], logits)
    assert _rel(dlogits, numeric) < 1e-6
    # Huge logits do not overflow.
    assert np.isfinite(tr.softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))[0])


@pytest.mark.parametrize(
    "options",
    [
        dict(cell="rnn", layers=1),
        dict(cell="lstm", layers=2),
        dict(cell="rnn", bidirectional=True, every_step=True),
        dict(cell="lstm", bidirectional=True),
        dict(cell="lstm", layers=1, every_step=True, forget_bias=3.0),
        dict(cell="lstm", bidirectional=True, layers=2, every_step=True),
        dict(cell="rnn", bidirectional=True, layers=3),
    ],
)
def test_sequence_model_gradients_match_numerical_gradients(tr, options):
    rng = np.random.default_rng(1)
    model = tr.SequenceModel(D=3, H=4, C=3, seed=2, **options)
    x = rng.normal(size=(2, 5, 3))
    y = rng.integers(0, 3, size=(2, 5) if options.get("every_step") else (2,))

    def loss():
        return tr.softmax_cross_entropy(model.forward(x)[0], y)[0]

    scores, cache = model.forward(x)
    grads = model.backward(tr.softmax_cross_entropy(scores, y)[1], cache)
    assert grads.keys() == model.params.keys()
    for name, value in model.params.items():
        np.testing.assert_allclose(grads[name], _numeric_grad(loss, value), rtol=1e-5, atol=1e-9, err_msg=name)


def test_lstm_forget_bias_and_parameter_shapes(tr):
    model = tr.SequenceModel(D=3, H=4, C=2, cell="lstm", layers=2, forget_bias=3.0)
    assert model.params["layer0.Wx"].shape == (3, 16) and model.params["layer1.Wx"].shape == (4, 16)
    np.testing.assert_array_equal(model.params["layer1.b"][4:8], 3.0)
    np.testing.assert_array_equal(np.delete(model.params["layer1.b"], np.s_[4:8]), 0.0)
    with pytest.raises(ValueError, match="cell"):
        tr.SequenceModel(D=1, H=2, C=2, cell="gru")
    with pytest.raises(ValueError, match="layers"):
        tr.SequenceModel(D=1, H=2, C=2, layers=0)
    with pytest.raises(ValueError, match="constant_gates"):
        tr.SequenceModel(D=1, H=2, C=2, cell="rnn", constant_gates=True)


def test_stacked_bidirectional_layers_read_both_directions_of_the_layer_below(tr):
    deep = load_tree(SOURCE_DIR, ("deep_layers",)).deep_layers
    model = tr.SequenceModel(D=3, H=4, C=2, cell="lstm", bidirectional=True, layers=2, seed=3)
    assert model.params["layer0.fwd.Wx"].shape == (3, 16) and model.params["layer1.bwd.Wx"].shape == (8, 16)
    x = np.random.default_rng(4).normal(size=(2, 5, 3))
    h0 = np.zeros((2, 4))
    layer = [{k: model.params[f"layer{l}.{d}.{k}"] for k in ("Wx", "Wh", "b")} for l in range(2) for d in ("fwd", "bwd")]
    first, _ = deep.bidirectional_forward(x, h0, h0, layer[0], layer[1], cell="lstm")
    second, _ = deep.bidirectional_forward(first, h0, h0, layer[2], layer[3], cell="lstm")
    np.testing.assert_allclose(model.hidden(x)[0], second, rtol=1e-12)


def test_constant_gates_have_no_weights_from_the_data_and_keep_none(tr):
    model = tr.SequenceModel(D=3, H=4, C=2, cell="lstm", layers=2, constant_gates=True, seed=5)

    def task(rng):
        x = rng.normal(size=(8, 6, 3))
        return x, (x[:, :, 0].sum(axis=1) > 0).astype(int)

    tr.train(model, task, steps=20, lr=5e-2, seed=0)
    for l in range(2):
        for key in ("Wx", "Wh"):
            weights = model.params[f"layer{l}.{key}"]
            for gate in tr.CONSTANT_GATES:
                block = tr.GATE_BLOCKS[gate]
                np.testing.assert_array_equal(weights[:, block * 4:(block + 1) * 4], 0.0)
            assert np.abs(weights[:, 8:12]).min() > 0, "the candidate g still reads x and h"
    # So every gate is a constant per unit: the same at every step of every sequence.
    lstm_forward = load_tree(SOURCE_DIR, ("lstm_layers",)).lstm_layers.lstm_forward
    x = np.random.default_rng(6).normal(size=(3, 5, 3))
    params = {k: model.params[f"layer0.{k}"] for k in ("Wx", "Wh", "b")}
    h, _ = lstm_forward(x, np.zeros((3, 4)), params["Wx"], params["Wh"], params["b"])
    gates = tr.lstm_gates(x, h, np.zeros((3, 4)), params)
    for gate in "ifo":
        np.testing.assert_allclose(gates[gate], np.broadcast_to(gates[gate][0, 0], gates[gate].shape), rtol=1e-12)
    assert np.ptp(gates["g"]) > 0.1


def test_multiscale_trend_labels_say_whether_the_slow_part_rises(tr):
    x, y, slow = tr.multiscale_trend(5, 200, np.random.default_rng(7))
    assert x.shape == (5, 200, 1) and y.shape == (5, 200) and slow.shape == (5, 200)
    rising = np.diff(slow, axis=1) > 0
    # The label is the sign of the derivative; a finite difference agrees away from the turning points.
    far_from_turns = np.abs(np.diff(slow, axis=1)) > 1e-3
    np.testing.assert_array_equal(y[:, :-1][far_from_turns], rising[far_from_turns])
    residual = x[..., 0] - slow
    assert 0.2 < residual.std() < 0.3 and abs(residual.mean()) < 0.05       # 0.3 sin (std 0.21) and 0.1 noise


def test_marked_recall_targets_are_the_last_marked_symbols(tr):
    x, y, marked = tr.marked_recall(200, 12, 5, np.random.default_rng(3), marks=(1, 3))
    assert x.shape == (200, 12, 6) and y.shape == (200,) and marked.shape == (200, 12)
    np.testing.assert_array_equal(x[..., :5].sum(axis=-1), 1.0)
    np.testing.assert_array_equal(x[..., 5], marked)
    counts = marked.sum(axis=1)
    assert counts.min() == 1 and counts.max() == 3
    for n in range(200):
        last = np.flatnonzero(marked[n])[-1]
        assert y[n] == np.argmax(x[n, last, :5])
    _, _, early = tr.marked_recall(100, 40, 4, np.random.default_rng(4), marks=(1, 1), mark_within=4)
    np.testing.assert_array_equal(early.sum(axis=1), 1)
    assert not early[:, 4:].any()
    with pytest.raises(ValueError, match="mark_within"):
        tr.marked_recall(2, 5, 3, np.random.default_rng(0), marks=(1, 1), mark_within=6)


def test_neighbour_sum_and_delayed_echo_labels(tr):
    x, y = tr.neighbour_sum(50, 7, np.random.default_rng(5))
    bits = (x[..., 0] > 0).astype(int)
    for t in range(7):
        left = bits[:, t - 1] if t > 0 else 0
        right = bits[:, t + 1] if t < 6 else 0
        np.testing.assert_array_equal(y[:, t], left + right)
    x, y = tr.delayed_echo(50, 9, 3, np.random.default_rng(6))
    np.testing.assert_array_equal(y[:, 3:], (x[:, :6, 0] > 0).astype(int))
    np.testing.assert_array_equal(y[:, :3], 0)


def test_lstm_gates_reproduce_the_hidden_states(tr):
    lstm_forward = load_tree(SOURCE_DIR, ("lstm_layers",)).lstm_layers.lstm_forward

    rng = np.random.default_rng(7)
    x, h0 = rng.normal(size=(3, 6, 2)), rng.normal(size=(3, 4))
    params = tr.init_cell(2, 4, "lstm", rng, forget_bias=1.0)
    h, _ = lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    gates = tr.lstm_gates(x, h, h0, params)
    np.testing.assert_allclose(gates["o"] * np.tanh(gates["c"]), h, rtol=1e-12, atol=1e-12)
    assert all(0 < gates[k].min() and gates[k].max() < 1 for k in "ifo")


def test_training_is_deterministic_and_reduces_the_loss(tr):
    def task(rng):
        return tr.neighbour_sum(16, 6, rng)

    histories = [tr.train(tr.SequenceModel(D=1, H=6, C=3, bidirectional=True, every_step=True, seed=0), task,
                          steps=60, lr=2e-2, seed=0, eval_every=20) for _ in range(2)]
    assert histories[0] == histories[1]
    assert histories[0]["loss"][-1] < 0.7 * histories[0]["loss"][0]
    assert histories[0]["step"] == [0, 20, 40, 60] and len(histories[0]["grad_norm"]) == 60


def test_fit_linear_classifier_learns_a_linear_rule(tr):
    rng = np.random.default_rng(8)
    features = rng.normal(size=(400, 3))
    y = (features @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    predict = tr.fit_linear_classifier(features, y, n_classes=2)
    assert np.mean(predict(features) == y) > 0.95
