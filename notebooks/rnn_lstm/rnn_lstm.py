# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Recurrent neural networks and LSTMs
#
# This notebook walks through the lecture with **your own code**: every recurrent layer, backward pass,
# gradient measurement and clipping step below calls the functions you write in `rnn_layers.py`,
# `lstm_layers.py`, `deep_layers.py` and `gradient_flow.py`. Edit those files, then re-run the notebook
# (the `autoreload` extension picks up your changes; restart the kernel if in doubt).
#
# 1. Sequential data
# 2. RNNs: an MLP unrolled in time, backpropagation through time (BPTT), truncated BPTT
# 3. Vanishing and exploding gradients, gradient clipping
# 4. LSTMs: the constant error carousel and gates controlled by the data
# 5. Stacked and bidirectional RNNs
# 6. Experiment: a long-range dependency that an LSTM learns and a vanilla RNN does not
# 7. Conclusions and questions
#
# Cells marked `YOUR CODE HERE` are yours to complete; the cells after them test your code (some
# tests are hidden and run only when your notebook is graded). Three written questions at the end
# are graded by hand. The training loop, loss and optimiser are provided in `training.py` (not graded)
# and run on top of your layers. Everything is numpy on the CPU; the whole notebook runs in about a
# minute.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
# %matplotlib inline
# %load_ext autoreload
# %autoreload 2

import numpy as np
import matplotlib.pyplot as plt

from gradient_check import eval_numerical_gradient_array, rel_error
from rnn_layers import rnn_backward, rnn_forward, rnn_step_forward
from lstm_layers import lstm_forward, sigmoid
from gradient_flow import clip_grad_norm, hidden_grad_norms
from training import (SequenceModel, delayed_echo, fit_linear_classifier, init_cell, lstm_gates,
                      marked_recall, neighbour_sum, train)

plt.rcParams["figure.figsize"] = (10, 3.5)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1 Sequential data
#
# A sequence is an ordered list of observations $x_0, x_1, \dots, x_{T-1}$. In this assignment a batch
# of sequences is an array `x` of shape `(N, T, D)`: $N$ sequences, $T$ time steps, and a vector of
# $D$ numbers per step.
#
# **Order matters.** "The dog bit the man" and "the man bit the dog" contain the same words. A model
# that sums or averages over time (a *bag of words*) cannot tell them apart; a sequence model must
# treat *where* something occurs as information.
#
# **Multidimensional sequences.** Each step may carry many channels: the three axes of an
# accelerometer, the 88 keys of a piano roll, a word embedding, a video frame. `D` is that width.
#
# **Multiscale sequences.** Real sequences have structure on several time scales at once: phonemes,
# words and sentences in speech; daily and weekly cycles in electricity demand; notes, bars and
# phrases in music. A good model has to relate events that are a few steps apart *and* events that
# are hundreds of steps apart.
#
# The plot shows a synthetic 3-channel sequence with a slow trend, a fast oscillation, and rare
# events that a model would have to remember.

# %%
t = np.arange(300)
rng = np.random.default_rng(0)
slow = np.sin(2 * np.pi * t / 150)                                    # slow scale: a period of 150 steps
fast = 0.3 * np.sin(2 * np.pi * t / 7) + 0.1 * rng.normal(size=t.size)  # fast scale: a period of 7 steps
events = (rng.random(t.size) < 0.02).astype(float)                    # rare events, about 1 in 50 steps
sequence = np.stack([slow, slow + fast, events], axis=1)              # one sequence: (T, D) = (300, 3)

fig, axes = plt.subplots(3, 1, sharex=True, figsize=(10, 4))
for d, (ax, name) in enumerate(zip(axes, ["slow", "slow + fast", "events"])):
    ax.plot(t, sequence[:, d], lw=1)
    ax.set_ylabel(name)
axes[-1].set_xlabel("time step t")
fig.suptitle("A multidimensional (D = 3), multiscale sequence")
plt.show()


# %% [markdown]
# ### The receptive field of a fixed-window model
#
# The simplest way to use a feed-forward model on a sequence is a sliding window: to predict at time
# $t$ it reads the last $w$ inputs $x_{t-w+1}, \dots, x_t$. Its **receptive field** is $w$ steps:
# whatever happened earlier is invisible to it, however large the model is. A recurrent network
# instead carries a state $h_t$ that can depend on *every* earlier input.
#
# Complete `window_features`: for every time step, the concatenation of the last `w` inputs, oldest
# first, with zeros before the start of the sequence.

# %% nbgrader={"grade": false, "grade_id": "window-features", "locked": false, "schema_version": 3, "solution": true}
def window_features(x, w):
    '''The inputs a fixed-window model sees at every time step.

    Inputs:
    - x: input sequences, of shape (N, T, D)
    - w: window length, an int >= 1

    Returns:
    - features: of shape (N, T, w * D); features[:, t, j*D:(j+1)*D] is x[:, t - w + 1 + j]
      (oldest first, so the last block is x[:, t]), and zeros where t - w + 1 + j < 0.
    '''
    ### BEGIN SOLUTION
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, w - 1, D)), x], axis=1)
    return np.concatenate([padded[:, j : j + T] for j in range(w)], axis=2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-window-features", "locked": true, "points": 2, "schema_version": 3, "solution": false}
x_demo = np.arange(1.0, 7.0).reshape(1, 3, 2)        # N=1, T=3, D=2
f_demo = window_features(x_demo, 2)
assert f_demo.shape == (1, 3, 4), f_demo.shape
np.testing.assert_allclose(f_demo[0, 0], [0, 0, 1, 2])   # nothing before t = 0
np.testing.assert_allclose(f_demo[0, 2], [3, 4, 5, 6])   # x[:, 1] then x[:, 2]
np.testing.assert_allclose(window_features(x_demo, 1), x_demo)
print("window_features: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(42)
for _N, _T, _D, _w in [(2, 5, 3, 3), (1, 1, 1, 1), (3, 4, 2, 6), (2, 7, 1, 7)]:
    _x = _rng.normal(size=(_N, _T, _D))
    _x_copy = _x.copy()
    _f = window_features(_x, _w)
    assert _f.shape == (_N, _T, _w * _D)
    _expected = np.zeros((_N, _T, _w * _D))
    for _t in range(_T):
        for _j in range(_w):
            _s = _t - _w + 1 + _j
            if _s >= 0:
                _expected[:, _t, _j * _D:(_j + 1) * _D] = _x[:, _s]
    np.testing.assert_allclose(_f, _expected)
    np.testing.assert_array_equal(_x, _x_copy)
### END HIDDEN TESTS

# %% [markdown]
# Now a task with a known dependency length: the input is a random sequence of bits $\pm 1$ and the
# target at step $t$ is the bit seen `delay` steps earlier (a delayed echo). We fit the best *linear*
# classifier on window features for every window length $w$ and measure its accuracy on new
# sequences. Chance is 50%.

# %%
delay = 5
x_train, y_train = delayed_echo(200, 30, delay, np.random.default_rng(1))
x_test, y_test = delayed_echo(200, 30, delay, np.random.default_rng(2))

windows = np.arange(1, 11)
window_accuracy = []
for w in windows:
    predict = fit_linear_classifier(window_features(x_train, w), y_train, n_classes=2)
    window_accuracy.append(np.mean(predict(window_features(x_test, w)) == y_test))
window_accuracy = np.array(window_accuracy)

plt.plot(windows, window_accuracy, "o-")
plt.axvline(delay + 1, color="gray", ls="--", label=f"w = delay + 1 = {delay + 1}")
plt.xlabel("window length w"); plt.ylabel("test accuracy"); plt.ylim(0, 1.05); plt.legend()
plt.title(f"A fixed-window model on a dependency {delay} steps long")
plt.show()
print("accuracy by window length:", dict(zip(windows.tolist(), window_accuracy.round(3).tolist())))

# %% [markdown]
# Below $w = \text{delay} + 1$ the model is at chance: the bit it needs lies outside its receptive
# field, and no amount of training can help. At $w = \text{delay} + 1$ it jumps to (almost) 100%.
# (It is not exactly 50% below the threshold because for the first `delay` steps the target is a fixed
# 0, which any window can learn.) A window model must be told the dependency length in advance,
# and its number of inputs grows with it. A recurrent network learns what to keep in its state.

# %% [markdown]
# ## 2 RNNs: an MLP unrolled in time
#
# A vanilla RNN applies the *same* small network at every time step. It reads the input $x_t$ and its
# own previous state $h_{t-1}$:
#
# $$h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad y_t = h_t W_y + b_y .$$
#
# Unrolled over $T$ steps this is a deep feed-forward network with $T$ layers in which every layer
# shares the **input weights** $W_x$, the **recurrent weights** $W_h$ and the **output weights** $W_y$.
# Sharing makes the number of parameters independent of $T$ and lets the network apply what it
# learned at one position to every other position.
#
# Your `rnn_forward` is exactly this loop. Check that it applies the same weights at every step:

# %%
rng = np.random.default_rng(0)
N, T, D, H = 2, 6, 3, 4
x = rng.normal(size=(N, T, D))
h0 = rng.normal(size=(N, H))
Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)) / 2, rng.normal(size=H)

h, _ = rnn_forward(x, h0, Wx, Wh, b)
unrolled, prev = [], h0
for step in range(T):               # the unrolled network: T layers with shared weights
    prev = np.tanh(x[:, step] @ Wx + prev @ Wh + b)
    unrolled.append(prev)
print("rnn_forward == the unrolled MLP:", np.allclose(h, np.stack(unrolled, axis=1)))

# %% [markdown]
# ### Backpropagation through time (BPTT)
#
# Training the unrolled network is ordinary backpropagation through its $T$ layers. Because the
# weights are shared, the gradient of a shared weight is the **sum** of its gradients at every step,
# and the gradient reaching $h_t$ has two parts: from the loss at step $t$, and from the future
# through $h_{t+1}$:
#
# $$\frac{\partial L}{\partial h_t} = \frac{\partial L_t}{\partial h_t} + \frac{\partial L}{\partial h_{t+1}}\,\frac{\partial h_{t+1}}{\partial h_t}.$$
#
# Compare your `rnn_backward` with a numerical gradient (relative errors around $10^{-8}$ or smaller
# mean your BPTT is right):

# %%
dh = rng.normal(size=(N, T, H))
_, cache = rnn_forward(x, h0, Wx, Wh, b)
dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)

numeric = {
    "dx": eval_numerical_gradient_array(lambda v: rnn_forward(v, h0, Wx, Wh, b)[0], x, dh),
    "dh0": eval_numerical_gradient_array(lambda v: rnn_forward(x, v, Wx, Wh, b)[0], h0, dh),
    "dWx": eval_numerical_gradient_array(lambda v: rnn_forward(x, h0, v, Wh, b)[0], Wx, dh),
    "dWh": eval_numerical_gradient_array(lambda v: rnn_forward(x, h0, Wx, v, b)[0], Wh, dh),
    "db": eval_numerical_gradient_array(lambda v: rnn_forward(x, h0, Wx, Wh, v)[0], b, dh),
}
analytic = {"dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db}
bptt_errors = {name: rel_error(analytic[name], numeric[name]) for name in numeric}
for name, err in bptt_errors.items():
    print(f"{name:4s} relative error: {err:.2e}")


# %% [markdown]
# ### Truncated BPTT
#
# Full BPTT stores every step of the sequence and runs back through all of them. For long sequences
# (a book, a day of sensor data) that is too slow and too memory-hungry, so in practice the sequence
# is cut into chunks of $k$ steps. The forward pass still carries the hidden state from chunk to
# chunk, but the backward pass stops at each chunk boundary: the state that enters a chunk is treated
# as a constant.
#
# Implement truncated BPTT the way it is used in practice, by running your `rnn_forward` and
# `rnn_backward` (without `truncate`) chunk by chunk: each chunk starts from the last state of the
# previous one, its weight gradients are added up, and only the first chunk passes a gradient to
# `h0`. The result must equal `rnn_backward(dh, cache, truncate=k)`.

# %% nbgrader={"grade": false, "grade_id": "chunked-bptt", "locked": false, "schema_version": 3, "solution": true}
def chunked_bptt(x, h0, Wx, Wh, b, dh, k):
    '''Truncated BPTT by running the RNN chunk by chunk.

    Inputs:
    - x: (N, T, D); h0: (N, H); Wx, Wh, b: the RNN weights
    - dh: upstream gradient on every hidden state, of shape (N, T, H)
    - k: chunk length, an int >= 1; chunks are [0, k), [k, 2k), ... (the last may be shorter)

    Returns a tuple dx (N, T, D), dh0 (N, H), dWx, dWh, db, exactly as
    rnn_backward(dh, cache, truncate=k) would.
    '''
    ### BEGIN SOLUTION
    T = x.shape[1]
    prev = h0
    dx_chunks = []
    dh0 = None
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    for start in range(0, T, k):
        stop = min(start + k, T)
        h_chunk, chunk_cache = rnn_forward(x[:, start:stop], prev, Wx, Wh, b)
        dx_c, dprev, dWx_c, dWh_c, db_c = rnn_backward(dh[:, start:stop], chunk_cache)
        if start == 0:
            dh0 = dprev
        dx_chunks.append(dx_c)
        dWx, dWh, db = dWx + dWx_c, dWh + dWh_c, db + db_c
        prev = h_chunk[:, -1]
    return np.concatenate(dx_chunks, axis=1), dh0, dWx, dWh, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-chunked-bptt", "locked": true, "points": 3, "schema_version": 3, "solution": false}
_rng = np.random.default_rng(7)
_x, _h0 = _rng.normal(size=(2, 7, 3)), _rng.normal(size=(2, 4))
_Wx, _Wh, _b = _rng.normal(size=(3, 4)), _rng.normal(size=(4, 4)) / 2, _rng.normal(size=4)
_dh = _rng.normal(size=(2, 7, 4))
_, _cache = rnn_forward(_x, _h0, _Wx, _Wh, _b)
_got = chunked_bptt(_x, _h0, _Wx, _Wh, _b, _dh, 3)
_expected = rnn_backward(_dh, _cache, truncate=3)
assert len(_got) == 5
for _name, _g, _e in zip(["dx", "dh0", "dWx", "dWh", "db"], _got, _expected):
    assert _g.shape == _e.shape, (_name, _g.shape, _e.shape)
    np.testing.assert_allclose(_g, _e, rtol=1e-7, atol=1e-10, err_msg=_name)
print("chunked_bptt: visible tests passed")
### BEGIN HIDDEN TESTS
for _N, _T, _D, _H, _k in [(1, 5, 2, 3, 1), (3, 6, 2, 5, 2), (2, 4, 3, 2, 4), (2, 4, 3, 2, 9)]:
    _x, _h0 = _rng.normal(size=(_N, _T, _D)), _rng.normal(size=(_N, _H))
    _Wx, _Wh, _b = _rng.normal(size=(_D, _H)), _rng.normal(size=(_H, _H)) / 2, _rng.normal(size=_H)
    _dh = _rng.normal(size=(_N, _T, _H))
    _copies = [a.copy() for a in (_x, _h0, _Wx, _Wh, _b, _dh)]
    _, _cache = rnn_forward(_x, _h0, _Wx, _Wh, _b)
    _got = chunked_bptt(_x, _h0, _Wx, _Wh, _b, _dh, _k)
    _expected = rnn_backward(_dh, _cache, truncate=None if _k >= _T else _k)
    for _g, _e in zip(_got, _expected):
        np.testing.assert_allclose(_g, _e, rtol=1e-7, atol=1e-10)
    for _a, _c in zip((_x, _h0, _Wx, _Wh, _b, _dh), _copies):
        np.testing.assert_array_equal(_a, _c)
### END HIDDEN TESTS

# %% [markdown]
# **What truncation cuts.** Put a loss on the last hidden state only and look at how much gradient
# reaches each input $x_t$. With full BPTT every input gets some; with truncation the gradient stops
# at the last chunk boundary. Truncated BPTT therefore cannot *learn* a dependency longer than $k$
# steps (the forward pass can still carry information further, but nothing trains it to).

# %%
rng = np.random.default_rng(3)
N, T, D, H, k = 4, 24, 3, 8, 5
x = rng.normal(size=(N, T, D))
h0 = np.zeros((N, H))
Wx, Wh, b = rng.normal(size=(D, H)) / np.sqrt(D), 1.2 * np.linalg.qr(rng.normal(size=(H, H)))[0], np.zeros(H)
dh_last = np.zeros((N, T, H))
dh_last[:, -1] = 1.0                      # L = sum(h_{T-1})
_, cache = rnn_forward(x, h0, Wx, Wh, b)
dx_full = rnn_backward(dh_last, cache)[0]
dx_trunc = rnn_backward(dh_last, cache, truncate=k)[0]

steps = np.arange(T)
plt.bar(steps - 0.2, np.linalg.norm(dx_full, axis=(0, 2)), width=0.4, label="full BPTT")
plt.bar(steps + 0.2, np.linalg.norm(dx_trunc, axis=(0, 2)), width=0.4, label=f"truncated, k = {k}")
for boundary in range(k, T, k):
    plt.axvline(boundary - 0.5, color="gray", lw=0.5)
plt.yscale("log"); plt.xlabel("time step t"); plt.ylabel(r"$\|\partial L / \partial x_t\|$")
plt.title("Gradient of a loss on the last state with respect to every input"); plt.legend()
plt.show()
last_chunk_start = ((T - 1) // k) * k
print(f"inputs receiving gradient: full BPTT {np.sum(np.abs(dx_full).sum(axis=(0, 2)) > 0)} of {T}, "
      f"truncated {np.sum(np.abs(dx_trunc).sum(axis=(0, 2)) > 0)} of {T} (the last chunk starts at t = {last_chunk_start})")


# %% [markdown]
# ## 3 Vanishing and exploding gradients
#
# Going one step back in time multiplies the gradient by the Jacobian of one step:
#
# $$\frac{\partial L}{\partial h_{t-1}} = \Big(\frac{\partial L}{\partial h_t} \odot (1 - h_t^2)\Big)\, W_h^\top .$$
#
# Going back $n$ steps multiplies $n$ such factors. If their size is below 1 the gradient shrinks
# geometrically (**vanishing**): the loss cannot tell the network how to change what it did many
# steps ago, so long dependencies are never learned. If it is above 1 the gradient grows
# geometrically (**exploding**) and a single update can throw the weights far away.
#
# Your `hidden_grad_norms` measures $\|\partial L/\partial h_t\|$ for a loss on the last state. To
# summarise a curve by one number, complete `growth_factor`: the average factor by which the
# gradient norm is multiplied per step as we go back in time from `stop` to `start`.

# %% nbgrader={"grade": false, "grade_id": "growth-factor", "locked": false, "schema_version": 3, "solution": true}
def growth_factor(norms, start, stop):
    '''Average per-step factor of the gradient norm going back in time from `stop` to `start`.

    Inputs:
    - norms: array of shape (T,), e.g. from hidden_grad_norms (all entries > 0)
    - start, stop: time steps with 0 <= start < stop < T

    Returns the float r with norms[start] = norms[stop] * r ** (stop - start), i.e. the geometric
    mean of the per-step ratios norms[t - 1] / norms[t]. r < 1: vanishing; r > 1: exploding.
    '''
    ### BEGIN SOLUTION
    return float((norms[start] / norms[stop]) ** (1.0 / (stop - start)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-growth-factor", "locked": true, "points": 2, "schema_version": 3, "solution": false}
_norms = 3.0 * 0.5 ** np.arange(9)[::-1]          # halves at every step back in time
assert abs(growth_factor(_norms, 0, 8) - 0.5) < 1e-12
assert abs(growth_factor(_norms, 2, 5) - 0.5) < 1e-12
assert isinstance(growth_factor(_norms, 0, 8), float)
print("growth_factor: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(11)
for _ in range(5):
    _n = np.exp(_rng.normal(size=12))
    _start, _stop = sorted(_rng.choice(12, size=2, replace=False))
    _ratios = _n[_start:_stop] / _n[_start + 1:_stop + 1]
    _expected = float(np.exp(np.mean(np.log(_ratios))))
    assert abs(growth_factor(_n, _start, _stop) - _expected) < 1e-9 * max(1.0, _expected)
assert abs(growth_factor(np.array([2.0, 4.0]), 0, 1) - 0.5) < 1e-12
assert abs(growth_factor(np.array([8.0, 1.0, 1.0]), 0, 2) - np.sqrt(8.0)) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# We now run an RNN with orthogonal recurrent weights scaled to $0.5$, $1$ and $2$ (so every
# singular value of $W_h$ equals the scale) over small random inputs, and an LSTM initialised with
# forget-gate bias 3 (section 4 explains why), and plot how much gradient reaches every earlier
# state. Note the logarithmic axis.

# %%
rng = np.random.default_rng(0)
N, T, D, H = 8, 40, 4, 32
x = 0.3 * rng.normal(size=(N, T, D))
h0 = np.zeros((N, H))
Q = np.linalg.qr(rng.normal(size=(H, H)))[0]
Wx_rnn = rng.normal(size=(D, H)) / np.sqrt(D)

curves = {}
for scale in (0.5, 1.0, 2.0):
    curves[f"RNN, W_h = {scale} x orthogonal"] = hidden_grad_norms(x, h0, Wx_rnn, scale * Q, np.zeros(H), cell="rnn")
lstm_params = init_cell(D, H, "lstm", np.random.default_rng(1), forget_bias=3.0)
curves["LSTM, forget bias 3"] = hidden_grad_norms(x, h0, lstm_params["Wx"], lstm_params["Wh"], lstm_params["b"], cell="lstm")

for name, norms in curves.items():
    plt.semilogy(np.arange(T), norms, label=name)
plt.xlabel("time step t"); plt.ylabel(r"$\|\partial L / \partial h_t\|$, $L = \sum h_{T-1}$")
plt.title("How much gradient reaches earlier states"); plt.legend(fontsize=8)
plt.show()
for name, norms in curves.items():
    print(f"{name:32s} growth factor per step (t = 0..{T - 1}): {growth_factor(norms, 0, T - 1):.3f}")

# %% [markdown]
# With small recurrent weights the gradient from step $T-1$ is lost after a few steps. With large
# ones it explodes (as long as the units are not saturated; in saturation $1 - h_t^2$ pulls the
# factor back down). Even at scale 1 the tanh derivative, which is at most 1, makes it decay. There
# is no setting of $W_h$ that keeps the factor at 1 for all inputs. The LSTM's gradient neither
# vanishes nor explodes here: section 4 shows why.
#
# ### Gradient clipping
#
# Exploding gradients have a simple and effective fix: if the norm of *all* gradients together
# exceeds a threshold, scale them all down to that norm. The update keeps its direction but cannot
# be arbitrarily large. Clipping does nothing against vanishing gradients: it cannot create a
# signal that is not there. (The training loop in `training.py` clips with your `clip_grad_norm`.)

# %%
dh_last = np.zeros((N, T, H))
dh_last[:, -1] = 1.0
_, cache = rnn_forward(x, h0, Wx_rnn, 2.0 * Q, np.zeros(H))
_, _, dWx, dWh, db = rnn_backward(dh_last, cache)
grads = {"Wx": dWx, "Wh": dWh, "b": db}
clipped, total_norm = clip_grad_norm(grads, max_norm=1.0)

def flat(g):
    return np.concatenate([g[name].ravel() for name in sorted(g)])

cosine = flat(grads) @ flat(clipped) / (np.linalg.norm(flat(grads)) * np.linalg.norm(flat(clipped)))
print(f"norm before clipping: {total_norm:.1f}, after: {np.linalg.norm(flat(clipped)):.3f}, "
      f"cosine between the two: {cosine:.6f}")

# %% [markdown]
# ## 4 LSTMs
#
# ### The constant error carousel
#
# An LSTM adds a second state, the **memory cell** $c_t$, with a path through time that has **no
# activation function and no weight matrix** on it:
#
# $$c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t),$$
#
# with the gates $i_t, f_t, o_t = \sigma(\cdot)$ and the candidate $g_t = \tanh(\cdot)$, all computed
# from $x_t$ and $h_{t-1}$ (your `lstm_step_forward`). Along the cell path
#
# $$\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t) .$$
#
# When the forget gate is open ($f_t \approx 1$) the error flows back through time unchanged, step
# after step: Hochreiter and Schmidhuber's **constant error carousel**. Nothing squashes it and no
# $W_h$ rescales it, so the gradient neither vanishes nor explodes along this path. How much it
# decays is set by $f_t$ alone, which is why LSTMs are usually initialised with a positive forget-gate
# bias: the carousel starts open. Measure it with your functions:

# %%
print("forget bias  mean f at init  growth factor of ||dL/dh_t|| per step")
for forget_bias in (-2.0, 0.0, 1.0, 3.0, 5.0):
    p = init_cell(D, H, "lstm", np.random.default_rng(1), forget_bias=forget_bias)
    norms = hidden_grad_norms(x, h0, p["Wx"], p["Wh"], p["b"], cell="lstm")
    h_seq, _ = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    mean_f = lstm_gates(x, h_seq, h0, p)["f"].mean()
    print(f"{forget_bias:11.1f}  {mean_f:12.3f}  {growth_factor(norms, 0, T - 1):10.3f}")

# %% [markdown]
# ### The gates are controlled by the data
#
# The decisive difference from an RNN is not only the linear cell path: **the gates are computed
# from the current input and state**. At every step the network decides, from what it reads, whether
# to write ($i_t$), whether to keep or erase ($f_t$), and whether to show its memory ($o_t$). A vanilla
# RNN has no such switch: $W_h$ is the same at every step, so it mixes every input into its state
# in the same way.
#
# To see this, we train a small LSTM (your layers, `H = 16`) on **marked recall**: each step shows one
# of 4 symbols and a marker bit; 1 to 3 steps anywhere in the sequence are marked, and after the last
# step the network must output the symbol at the **last** marked step. Unmarked steps are
# distractors. To solve it the LSTM has to erase and overwrite its memory when a mark arrives and hold
# it otherwise.

# %%
T_gates, n_symbols = 20, 4
def gate_task(rng, n=32):
    x, y, _ = marked_recall(n, T_gates, n_symbols, rng, marks=(1, 3))
    return x, y

gate_model = SequenceModel(D=n_symbols + 1, H=16, C=n_symbols, cell="lstm", forget_bias=1.0, seed=0)
gate_history = train(gate_model, gate_task, steps=400, lr=1e-2, seed=0,
                     eval_batch=gate_task(np.random.default_rng(123), n=500))
print(f"marked recall, T = {T_gates}: accuracy {gate_history['accuracy'][0]:.2f} before training, "
      f"{gate_history['accuracy'][-1]:.2f} after {gate_history['step'][-1]} steps (chance {1 / n_symbols:.2f})")

# %% [markdown]
# Now run the trained LSTM over three new sequences and plot what it reads (top row: the four symbol
# rows and, at the bottom, the marker row) and its input and forget gates for every hidden unit
# (dark = closed, bright = open). The dashed red lines are the marked steps.

# %%
x_show, y_show, marked_show = marked_recall(3, T_gates, n_symbols, np.random.default_rng(5), marks=(1, 3))
layer = {key: gate_model.params[f"layer0.{key}"] for key in ("Wx", "Wh", "b")}
h0_show = np.zeros((3, gate_model.H))
h_show, _ = lstm_forward(x_show, h0_show, layer["Wx"], layer["Wh"], layer["b"])
gates_show = lstm_gates(x_show, h_show, h0_show, layer)

fig, axes = plt.subplots(3, 3, figsize=(13, 6.5), sharex=True)
rows = [("input x_t", None), ("input gate i_t\nunit", "i"), ("forget gate f_t\nunit", "f")]
for col in range(3):
    for row, (label, key) in enumerate(rows):
        ax = axes[row, col]
        if key is None:
            ax.imshow(x_show[col].T, aspect="auto", cmap="Greys", interpolation="nearest")
            ax.set_yticks(range(n_symbols + 1), [f"sym {s}" for s in range(n_symbols)] + ["mark"], fontsize=7)
        else:
            image = ax.imshow(gates_show[key][col].T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        for t_mark in np.flatnonzero(marked_show[col]):
            ax.axvline(t_mark, color="red", ls="--", lw=1)
        if col == 0:
            ax.set_ylabel(label, fontsize=9)
    axes[0, col].set_title(f"sequence {col}: target = symbol {y_show[col]}", fontsize=9)
    axes[-1, col].set_xlabel("time step t")
fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="gate activation")
plt.show()


# %% [markdown]
# The forget gate closes (dark columns) on exactly the marked steps, in every sequence, wherever the
# marks happen to be: the LSTM erases its memory because the *input* says a new symbol matters, and
# the input gate of many units opens at the same steps to write it. To turn this into a number,
# complete `gate_contrast`: the mean activation of a gate on the marked steps minus its mean on all
# other steps.

# %% nbgrader={"grade": false, "grade_id": "gate-contrast", "locked": false, "schema_version": 3, "solution": true}
def gate_contrast(gate, marked):
    '''How differently a gate behaves on the marked steps.

    Inputs:
    - gate: gate activations, of shape (N, T, H)
    - marked: bool array of shape (N, T), True at the marked steps (at least one True and one False)

    Returns a float: the mean of gate over all units at marked steps minus the mean over all
    units at unmarked steps. Positive: the gate opens on marks; negative: it closes on them.
    '''
    ### BEGIN SOLUTION
    marked = np.asarray(marked, dtype=bool)
    return float(gate[marked].mean() - gate[~marked].mean())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test-gate-contrast", "locked": true, "points": 2, "schema_version": 3, "solution": false}
_gate = np.full((2, 3, 4), 0.2)
_marked = np.zeros((2, 3), dtype=bool)
_marked[0, 1] = _marked[1, 2] = True
_gate[_marked] = 0.9
assert abs(gate_contrast(_gate, _marked) - 0.7) < 1e-12
assert abs(gate_contrast(1.0 - _gate, _marked) + 0.7) < 1e-12
assert isinstance(gate_contrast(_gate, _marked), float)
print("gate_contrast: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(5)
_gate = _rng.random((3, 6, 5))
_marked = _rng.random((3, 6)) < 0.3
_marked[0, 0], _marked[0, 1] = True, False
_on = [_gate[n, t] for n in range(3) for t in range(6) if _marked[n, t]]
_off = [_gate[n, t] for n in range(3) for t in range(6) if not _marked[n, t]]
assert abs(gate_contrast(_gate, _marked) - (np.mean(_on) - np.mean(_off))) < 1e-12
assert abs(gate_contrast(_gate, _marked.astype(int)) - (np.mean(_on) - np.mean(_off))) < 1e-12
### END HIDDEN TESTS

# %%
x_eval, _, marked_eval = marked_recall(500, T_gates, n_symbols, np.random.default_rng(9), marks=(1, 3))
h0_eval = np.zeros((500, gate_model.H))
h_eval, _ = lstm_forward(x_eval, h0_eval, layer["Wx"], layer["Wh"], layer["b"])
gates_eval = lstm_gates(x_eval, h_eval, h0_eval, layer)
print("gate   mean on marked steps   mean elsewhere   contrast")
for key, name in [("i", "input"), ("f", "forget"), ("o", "output")]:
    g = gates_eval[key]
    print(f"{name:7s} {g[marked_eval].mean():20.3f} {g[~marked_eval].mean():16.3f} {gate_contrast(g, marked_eval):10.3f}")

# %% [markdown]
# ## 5 Stacking layers, unidirectional and bidirectional
#
# **Stacking.** A recurrent layer turns a sequence into a sequence, so layers can be stacked: layer
# $l$ reads the hidden states of layer $l-1$ (your `stacked_forward`). Deeper layers can work at
# coarser time scales and build more abstract features, exactly as depth helps in feed-forward
# networks.
#
# **Bidirectional.** A unidirectional RNN's state at time $t$ depends only on $x_0, \dots, x_t$. When the
# whole sequence is available before we must answer (tagging the words of a sentence, labelling a
# recorded signal), the future is context too: a bidirectional layer runs a second RNN from the end
# to the start and concatenates both states at every $t$ (your `bidirectional_forward`). It cannot be
# used when the output at $t$ is needed before $x_{t+1}$ arrives (online prediction, generating text).
#
# A task where the future matters: the input is random bits, and every step must be labelled with the
# number of ones among its two neighbours, $y_t = b_{t-1} + b_{t+1} \in \{0, 1, 2\}$. A model that reads
# only the past knows $b_{t-1}$ but must guess $b_{t+1}$, so it can be right at most half the time
# (except at the last step, whose right neighbour is the padding: a ceiling of $\tfrac12 + \tfrac{1}{2T}$).
# Depth does not help; seeing the future does. We train three small RNNs of your layers on it:

# %%
T_bi = 12
def neighbour_task(rng, n=32):
    return neighbour_sum(n, T_bi, rng)

bi_eval = neighbour_task(np.random.default_rng(1), n=500)
bi_histories = {}
for name, options in [("1 layer, unidirectional", dict(layers=1)),
                      ("2 stacked layers, unidirectional", dict(layers=2)),
                      ("1 layer, bidirectional", dict(bidirectional=True))]:
    model = SequenceModel(D=1, H=12, C=3, cell="rnn", every_step=True, seed=0, **options)
    bi_histories[name] = train(model, neighbour_task, steps=300, lr=1e-2, seed=0, eval_batch=bi_eval)

causal_ceiling = 0.5 + 0.5 / T_bi
for name, history in bi_histories.items():
    plt.plot(history["step"], history["accuracy"], label=name)
plt.axhline(causal_ceiling, color="gray", ls="--", label=f"best possible without the future ({causal_ceiling:.3f})")
plt.xlabel("training step"); plt.ylabel("accuracy per time step"); plt.ylim(0, 1.05); plt.legend(fontsize=8)
plt.title("Label each step with the sum of its two neighbours")
plt.show()
for name, history in bi_histories.items():
    print(f"{name:34s} final accuracy {history['accuracy'][-1]:.3f}")

# %% [markdown]
# ## 6 Experiment: a long-range dependency
#
# Marked recall again, now as a pure long-range task: sequences of $T = 40$ steps, **one** mark within
# the first 4 steps, and the answer is asked for after step 39, so the network must carry one of 4
# symbols across at least 36 steps of distractors. We train, with the same loop, loss (softmax cross
# entropy), optimiser (Adam, learning rate 0.01), gradient clipping (your `clip_grad_norm`, norm 1),
# batch size and seeds:
#
# - an LSTM (your layers) with forget-gate bias 3, the carousel open at the start ($f \approx 0.95$),
#   for 300 steps;
# - the same LSTM with forget-gate bias 1 ($f \approx 0.73$), for 300 steps;
# - a vanilla RNN of the same width, for 900 steps (three times the LSTM's budget; an RNN step is
#   cheaper).

# %%
T_long = 40
def long_task(rng, n=32):
    x, y, _ = marked_recall(n, T_long, n_symbols, rng, marks=(1, 1), mark_within=4)
    return x, y

long_eval = long_task(np.random.default_rng(123), n=500)
runs = {"LSTM, forget bias 3": dict(cell="lstm", forget_bias=3.0, steps=300),
        "LSTM, forget bias 1": dict(cell="lstm", forget_bias=1.0, steps=300),
        "vanilla RNN": dict(cell="rnn", forget_bias=1.0, steps=900)}
long_histories = {}
for name, run in runs.items():
    model = SequenceModel(D=n_symbols + 1, H=16, C=n_symbols, cell=run["cell"], forget_bias=run["forget_bias"], seed=0)
    long_histories[name] = train(model, long_task, steps=run["steps"], lr=1e-2, seed=0, eval_batch=long_eval)

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 3.8))
for name, history in long_histories.items():
    ax_loss.plot(history["step"], history["loss"], label=name)
    ax_acc.plot(history["step"], history["accuracy"], label=name)
ax_loss.axhline(np.log(n_symbols), color="gray", ls="--", label="chance (log 4)")
ax_acc.axhline(1 / n_symbols, color="gray", ls="--", label="chance (1/4)")
ax_loss.set_xlabel("training step"); ax_loss.set_ylabel("cross-entropy on held-out sequences")
ax_acc.set_xlabel("training step"); ax_acc.set_ylabel("accuracy on held-out sequences"); ax_acc.set_ylim(0, 1.05)
ax_loss.legend(fontsize=8); ax_acc.legend(fontsize=8)
fig.suptitle(f"Recall a symbol seen at least {T_long - 4} steps ago")
plt.show()

final = {name: history["accuracy"][-1] for name, history in long_histories.items()}
best = {name: max(history["accuracy"]) for name, history in long_histories.items()}
for name in long_histories:
    print(f"{name:22s} final accuracy {final[name]:.3f}, best {best[name]:.3f} "
          f"after {long_histories[name]['step'][-1]} steps")

# %% [markdown]
# The printed numbers and the curves above are computed from your code. With correct layers the LSTM
# whose carousel starts open solves the task within a couple of hundred steps, while the vanilla RNN
# stays at chance even with three times the training: the gradient that should tell it to keep the
# marked symbol has vanished (section 3) long before it reaches the mark. The LSTM with forget bias 1
# fails too within this budget: $0.73^{36} \approx 10^{-5}$, so its carousel starts leaky. Learning a
# long dependency needs a path along which the gradient survives.
#
# The next cell checks these outcomes. If it fails, one of your functions (most likely a backward
# pass) is wrong even if its shapes are right: go back to the gradient checks.

# %%
assert final["LSTM, forget bias 3"] >= 0.9, "the LSTM should solve the task: check lstm_backward and stacked_backward"
assert best["vanilla RNN"] <= 0.4, "a vanilla RNN should not learn this task: check rnn_backward"
print("as expected: the LSTM learns the long-range dependency and the vanilla RNN does not")

# %% [markdown]
# ## 7 Conclusions
#
# - Sequences carry information in their order; a fixed window sees only as far back as it is long,
#   while a recurrent state can, in principle, depend on the whole past.
# - An RNN is an MLP unrolled in time with shared weights, trained by backpropagation through time.
#   Truncated BPTT bounds its cost and the length of the dependencies it can learn.
# - Through the repeated Jacobian $\operatorname{diag}(1-h_t^2)\,W_h^\top$ the gradient vanishes or explodes
#   geometrically. Clipping tames the explosion; nothing in a vanilla RNN stops the vanishing.
# - The LSTM's cell path has no activation and no weight matrix (the constant error carousel), and its
#   gates, computed from the data, decide at every step what to write, keep and show.
# - Stacking adds depth; bidirectional layers add future context when the whole sequence is
#   available.
#
# ### Questions (graded by hand)
#
# Answer each in a few sentences, referring to the plots and numbers your notebook produced.
#
# **Question 1.** In section 6 the vanilla RNN stays at chance even with three times the training of
# the LSTM. Explain why, using the growth factors you measured in section 3. Would gradient clipping,
# or training it for ten times longer, fix this? Why or why not?

# %% [markdown] nbgrader={"grade": true, "grade_id": "answer-vanishing", "locked": false, "points": 3, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The gradient that would teach the RNN to store the marked symbol has to travel back at least 36
# steps. Each step multiplies it by $\operatorname{diag}(1-h_t^2) W_h^\top$; the measured growth
# factors are below 1 (e.g. about 0.5 for small weights, still below 1 at scale 1 because of the
# tanh derivative), so after 36 steps almost nothing is left: the signal from the target is
# swamped by the gradient from recent distractors. Clipping only shrinks large gradients; it cannot
# amplify a vanished one. Training longer does not help either, because the useful part of each
# update stays vanishingly small (and large recurrent weights, which would stop the vanishing, make
# the state saturate or the gradient explode instead).
# ### END SOLUTION

# %% [markdown]
# **Question 2.** Describe what the input and forget gates of your trained LSTM did in section 4, with
# the contrasts you computed. Why is this the behaviour the task requires, and why can a vanilla RNN
# with a fixed $W_h$ not behave this way?

# %% [markdown] nbgrader={"grade": true, "grade_id": "answer-gates", "locked": false, "points": 3, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# At the marked steps the forget gate closes (strongly negative contrast), erasing the previously
# stored symbol, and the input gate opens (positive contrast), writing the new one; on distractor
# steps the forget gate stays comparatively open and the input gate comparatively closed, so the
# memory is kept and not overwritten. That is exactly "store the last marked symbol": write and
# erase only when the data says so. The gates are sigmoid functions of $x_t$ and $h_{t-1}$, so the
# marker bit switches them. A vanilla RNN applies the same $W_h$ and the same tanh at every step:
# it cannot switch between "hold" and "overwrite"; every input is mixed into the state the same way,
# so distractors keep corrupting the stored symbol.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Give one task where a bidirectional RNN is the right choice and one where it cannot
# be used, and explain the difference with the neighbour-sum experiment of section 5. Why did the
# stacked unidirectional RNN not do better than the single layer?

# %% [markdown] nbgrader={"grade": true, "grade_id": "answer-bidirectional", "locked": false, "points": 3, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Bidirectional: tagging the words of a complete sentence (part-of-speech, named entities), or labelling
# a recorded signal, where the label of a step depends on what comes after it. Not possible: online
# prediction or generation (next-word prediction, real-time speech recognition, forecasting), where the
# output at $t$ is needed before $x_{t+1}$ exists. In the neighbour-sum task the label depends on
# $b_{t+1}$; the backward direction's state at $t$ has read $b_{t+1}$, so the bidirectional model reaches
# 100%. A stacked unidirectional model is deeper but each layer still only reads the past, so it is
# limited by the same ceiling of about 50%: depth adds capacity, not information.
# ### END SOLUTION
