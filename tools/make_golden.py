"""Golden vectors for the rnn_lstm assignment, computed by torch (an independent reference).

Run it from a separate virtual environment that has torch (never the project's .venv):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install -r tools/requirements-golden.txt
    /tmp/torchvenv/bin/python tools/make_golden.py            # writes source/rnn_lstm/tests/data/
    /tmp/torchvenv/bin/python tools/make_golden.py --check    # exit 1 if the committed files differ

Every case draws its numbers from numpy's generator seeded by the case name, writes them into
``torch.nn.RNN`` / ``torch.nn.LSTM`` / their cells in torch's own layout, and maps the weights back
into ours: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``, ``b = bias_ih + bias_hh`` (torch's LSTM gate
order i, f, g, o is ours). Gradients come from autograd of ``L = sum(upstream * output)``.
Everything is float64 and batch-first. Each case is one ``.npz`` file named ``KIND__NAME.npz``,
written byte for byte reproducibly (fixed zip timestamps), so re-running the script changes nothing.

Kinds and their keys (``{l}`` is a layer index, ``{k}`` a truncate value):

- ``rnn_step``: x, prev_h, Wx, Wh, b, next_h, dnext_h, dx, dprev_h, dWx, dWh, db
- ``lstm_step``: x, prev_h, prev_c, Wx, Wh, b, next_h, next_c, dnext_h, dnext_c,
  dx, dprev_h, dprev_c, dWx, dWh, db
- ``rnn_seq`` / ``lstm_seq``: x, h0, Wx, Wh, b, h, dh, dx, dh0, dWx, dWh, db
- ``rnn_truncated``: the ``rnn_seq`` inputs plus ``truncates`` (every k in 1..T+1) and
  dx_k{k}, dh0_k{k}, dWx_k{k}, dWh_k{k}, db_k{k}, built by running torch chunk by chunk with
  ``detach()`` on the state entering each chunk; the full-BPTT gradients are dx, dh0, ...
- ``stacked``: cell, layers, x, h0_{l}, Wx_{l}, Wh_{l}, b_{l}, h, dh, dx, dh0_{l}, dWx_{l}, dWh_{l}, db_{l}
- ``bidirectional``: cell, x, h0_f, h0_b, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b, h, dh, dx,
  dh0_f, dh0_b, dWx_f, dWh_f, db_f, dWx_b, dWh_b, db_b
- ``grad_norms``: cell, x, h0, Wx, Wh, b, norms (``retain_grad`` on every h_t, ``L = sum(h_{T-1})``)
- ``clip``: names, g_{name}, max_norm, total_norm, clipped_{name}
- ``sigmoid``: x, y
"""
from __future__ import annotations

import argparse
import io
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "source" / "rnn_lstm" / "tests" / "data"
SIZE_BUDGET = 300 * 1024  # bytes, all fixtures together

Arrays = Dict[str, np.ndarray]


# ---------------------------------------------------------------------------------------------
# deterministic inputs and files


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded by the case name, so adding a case never changes another one."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def npz_bytes(arrays: Arrays) -> bytes:
    """The bytes of an ``.npz`` (readable by ``np.load``) with fixed timestamps and key order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def to_np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float64))


def tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# ---------------------------------------------------------------------------------------------
# torch modules with our weights


def torch_layer_weights(rng: np.random.Generator, gates: int, D: int, H: int, scale: float = 1.0) -> Arrays:
    """Random weights in torch's layout (torch's default init range, times ``scale`` for Wh)."""
    k = 1.0 / np.sqrt(H)
    return {
        "weight_ih": rng.uniform(-k, k, size=(gates * H, D)),
        "weight_hh": scale * rng.uniform(-k, k, size=(gates * H, H)),
        "bias_ih": rng.uniform(-k, k, size=(gates * H,)),
        "bias_hh": rng.uniform(-k, k, size=(gates * H,)),
    }


def ours(w: Arrays) -> Arrays:
    """torch layout -> ours: Wx = weight_ih.T, Wh = weight_hh.T, b = bias_ih + bias_hh."""
    return {
        "Wx": np.ascontiguousarray(w["weight_ih"].T),
        "Wh": np.ascontiguousarray(w["weight_hh"].T),
        "b": w["bias_ih"] + w["bias_hh"],
    }


def make_module(cell: str, D: int, H: int, layers: Sequence[Arrays], bidirectional: bool = False) -> torch.nn.Module:
    """``nn.RNN`` (tanh) or ``nn.LSTM`` holding the given torch-layout weights.

    ``layers`` lists one dict per layer, or per (layer, direction) with the reverse direction
    right after the forward one when ``bidirectional``.
    """
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM}[cell]
    directions = 2 if bidirectional else 1
    num_layers = len(layers) // directions
    kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
    module = cls(D, H, num_layers=num_layers, batch_first=True, bidirectional=bidirectional, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for index, w in enumerate(layers):
            layer, direction = divmod(index, directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for name, value in w.items():
                getattr(module, name + suffix).copy_(torch.from_numpy(value))
    return module


def module_grads(module: torch.nn.Module, count: int, directions: int = 1) -> List[Arrays]:
    """Gradients in our layout, one dict per layer (and direction), in ``make_module``'s order."""
    out = []
    for index in range(count):
        layer, direction = divmod(index, directions)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        g_ih = getattr(module, "bias_ih" + suffix).grad
        g_hh = getattr(module, "bias_hh" + suffix).grad
        # Both biases enter the same sum, so their gradients agree (up to summation order).
        assert torch.allclose(g_ih, g_hh, rtol=1e-12, atol=1e-12), "bias_ih and bias_hh gradients differ"
        out.append(
            {
                "Wx": to_np(getattr(module, "weight_ih" + suffix).grad.T),
                "Wh": to_np(getattr(module, "weight_hh" + suffix).grad.T),
                "b": to_np(g_ih),
            }
        )
    return out


def gates(cell: str) -> int:
    return 4 if cell == "lstm" else 1


# ---------------------------------------------------------------------------------------------
# cases


def step_case(cell: str, name: str, N: int, D: int, H: int) -> Arrays:
    """One time step: a length-1 sequence of nn.RNN / nn.LSTM from a given state."""
    rng = rng_for(name)
    w = torch_layer_weights(rng, gates(cell), D, H)
    x = rng.standard_normal((N, D))
    prev_h = rng.standard_normal((N, H))
    module = make_module(cell, D, H, [w])
    xt, ht = tensor(x[:, None, :], True), tensor(prev_h[None], True)
    case: Arrays = {"x": x, "prev_h": prev_h, **ours(w)}
    if cell == "rnn":
        _, hn = module(xt, ht)
        next_h = hn[0]
        case["dnext_h"] = rng.standard_normal((N, H))
        loss = (tensor(case["dnext_h"]) * next_h).sum()
    else:
        prev_c = rng.standard_normal((N, H))
        ct = tensor(prev_c[None], True)
        _, (hn, cn) = module(xt, (ht, ct))
        next_h, next_c = hn[0], cn[0]
        case.update(prev_c=prev_c, next_c=to_np(next_c))
        case["dnext_h"] = rng.standard_normal((N, H))
        case["dnext_c"] = rng.standard_normal((N, H))
        loss = (tensor(case["dnext_h"]) * next_h).sum() + (tensor(case["dnext_c"]) * next_c).sum()
    loss.backward()
    (g,) = module_grads(module, 1)
    case.update(next_h=to_np(next_h), dx=to_np(xt.grad[:, 0, :]), dprev_h=to_np(ht.grad[0]))
    if cell == "lstm":
        case["dprev_c"] = to_np(ct.grad[0])
    case.update(dWx=g["Wx"], dWh=g["Wh"], db=g["b"])
    return case


def run_sequence(cell: str, module: torch.nn.Module, x: np.ndarray, h0: np.ndarray, dh: np.ndarray, truncate: Optional[int] = None) -> Tuple[np.ndarray, Arrays]:
    """Forward a one-layer module over x from h0 (c0 = 0); backward L = sum(dh * h).

    With ``truncate=k`` the sequence runs chunk by chunk, the state entering every chunk but the
    first detached from the graph (truncated BPTT as the contract defines it).
    """
    N, T, _ = x.shape
    xt, h0t = tensor(x, True), tensor(h0[None], True)
    k = T if truncate is None else truncate
    state = h0t if cell == "rnn" else (h0t, torch.zeros_like(h0t))
    outputs = []
    for start in range(0, T, k):
        if start > 0:
            state = state.detach() if cell == "rnn" else tuple(s.detach() for s in state)
        out, state = module(xt[:, start : start + k], state)
        outputs.append(out)
    h = torch.cat(outputs, dim=1)
    for p in module.parameters():
        p.grad = None
    (tensor(dh) * h).sum().backward()
    (g,) = module_grads(module, 1)
    grads = {"dx": to_np(xt.grad), "dh0": to_np(h0t.grad[0]), "dWx": g["Wx"], "dWh": g["Wh"], "db": g["b"]}
    return to_np(h), grads


def seq_case(cell: str, name: str, N: int, T: int, D: int, H: int) -> Arrays:
    rng = rng_for(name)
    w = torch_layer_weights(rng, gates(cell), D, H)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    h, grads = run_sequence(cell, make_module(cell, D, H, [w]), x, h0, dh)
    return {"x": x, "h0": h0, **ours(w), "h": h, "dh": dh, **grads}


def truncated_case(name: str, N: int, T: int, D: int, H: int) -> Arrays:
    case = seq_case("rnn", name, N, T, D, H)
    rng = rng_for(name)
    w = torch_layer_weights(rng, 1, D, H)  # the same draws as seq_case, in the same order
    module = make_module("rnn", D, H, [w])
    truncates = np.arange(1, T + 2)
    case["truncates"] = truncates
    for k in truncates:
        h, grads = run_sequence("rnn", module, case["x"], case["h0"], case["dh"], truncate=int(k))
        np.testing.assert_allclose(h, case["h"], rtol=1e-12, atol=1e-12)
        case.update({f"{key}_k{k}": value for key, value in grads.items()})
    return case


def stacked_case(cell: str, name: str, N: int, T: int, D: int, widths: Sequence[int]) -> Arrays:
    """Stacked layers: one nn.RNN/nn.LSTM with num_layers when all widths agree, else a chain."""
    rng = rng_for(name)
    ins = [D, *widths[:-1]]
    ws = [torch_layer_weights(rng, gates(cell), i, H) for i, H in zip(ins, widths)]
    x = rng.standard_normal((N, T, D))
    h0s = [rng.standard_normal((N, H)) for H in widths]
    dh = rng.standard_normal((N, T, widths[-1]))
    xt = tensor(x, True)
    h0ts = [tensor(h0[None], True) for h0 in h0s]
    if len(set(widths)) == 1:
        module = make_module(cell, D, widths[0], ws)
        h0_all = torch.cat(h0ts, dim=0)
        state = h0_all if cell == "rnn" else (h0_all, torch.zeros_like(h0_all))
        h, _ = module(xt, state)
        modules = [(module, len(widths))]
    else:
        h, modules = xt, []
        for w, i, H, h0t in zip(ws, ins, widths, h0ts):
            module = make_module(cell, i, H, [w])
            state = h0t if cell == "rnn" else (h0t, torch.zeros_like(h0t))
            h, _ = module(h, state)
            modules.append((module, 1))
    (tensor(dh) * h).sum().backward()
    grads = [g for module, count in modules for g in module_grads(module, count)]
    case: Arrays = {"cell": np.array(cell), "layers": np.array(len(widths)), "x": x, "h": to_np(h), "dh": dh, "dx": to_np(xt.grad)}
    for l, (w, h0, h0t, g) in enumerate(zip(ws, h0s, h0ts, grads)):
        case.update({f"{key}_{l}": value for key, value in ours(w).items()})
        case[f"h0_{l}"] = h0
        case[f"dh0_{l}"] = to_np(h0t.grad[0])
        case.update({f"d{key}_{l}": value for key, value in g.items()})
    return case


def bidirectional_case(cell: str, name: str, N: int, T: int, D: int, H: int) -> Arrays:
    rng = rng_for(name)
    w_f = torch_layer_weights(rng, gates(cell), D, H)
    w_b = torch_layer_weights(rng, gates(cell), D, H)
    x = rng.standard_normal((N, T, D))
    h0_f, h0_b = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, 2 * H))
    module = make_module(cell, D, H, [w_f, w_b], bidirectional=True)
    xt = tensor(x, True)
    h0t = tensor(np.stack([h0_f, h0_b]), True)
    state = h0t if cell == "rnn" else (h0t, torch.zeros_like(h0t))
    h, _ = module(xt, state)
    (tensor(dh) * h).sum().backward()
    g_f, g_b = module_grads(module, 2, directions=2)
    case: Arrays = {"cell": np.array(cell), "x": x, "h0_f": h0_f, "h0_b": h0_b, "h": to_np(h), "dh": dh, "dx": to_np(xt.grad)}
    case.update({f"{key}_f": value for key, value in ours(w_f).items()})
    case.update({f"{key}_b": value for key, value in ours(w_b).items()})
    case.update(dh0_f=to_np(h0t.grad[0]), dh0_b=to_np(h0t.grad[1]))
    case.update({f"d{key}_f": value for key, value in g_f.items()})
    case.update({f"d{key}_b": value for key, value in g_b.items()})
    return case


def grad_norms_case(cell: str, name: str, N: int, T: int, D: int, H: int, wh_scale: float) -> Arrays:
    """norms[t] = ||dL/dh_t||_F for L = sum(h_{T-1}), from retain_grad on every h_t."""
    rng = rng_for(name)
    w = torch_layer_weights(rng, gates(cell), D, H, scale=wh_scale)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    module = (torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64) if cell == "rnn" else torch.nn.LSTMCell(D, H, dtype=torch.float64))
    with torch.no_grad():
        for key, value in w.items():
            getattr(module, key).copy_(torch.from_numpy(value))
    xt = tensor(x)
    h = tensor(h0)
    c = torch.zeros_like(h)
    states = []
    for t in range(T):
        if cell == "rnn":
            h = module(xt[:, t], h)
        else:
            h, c = module(xt[:, t], (h, c))
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    norms = np.array([torch.linalg.vector_norm(s.grad).item() for s in states])
    return {"cell": np.array(cell), "x": x, "h0": h0, **ours(w), "norms": norms}


def clip_case(name: str, shapes: Dict[str, Tuple[int, ...]], ratio: float) -> Arrays:
    """Global-norm clipping as the contract states it (torch.nn.utils.clip_grad_norm_ adds 1e-6
    to the norm, so only its norm is used here); ``max_norm = ratio * total_norm``."""
    rng = rng_for(name)
    grads = {key: torch.tensor(rng.standard_normal(shape), dtype=torch.float64) for key, shape in shapes.items()}
    total = torch.nn.utils.get_total_norm(list(grads.values()), norm_type=2.0)
    max_norm = ratio * total.item()
    scale = max_norm / total.item() if total.item() > max_norm else 1.0
    case: Arrays = {"names": np.array(sorted(shapes)), "max_norm": np.array(max_norm), "total_norm": np.array(total.item())}
    for key, g in grads.items():
        case[f"g_{key}"] = to_np(g)
        case[f"clipped_{key}"] = to_np(g * scale)
    return case


def sigmoid_case(name: str) -> Arrays:
    x = np.concatenate([np.array([-1000.0, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 745.0, 1000.0]), rng_for(name).standard_normal(16) * 5])
    return {"x": x, "y": to_np(torch.sigmoid(tensor(x)))}


def all_cases() -> Dict[str, Arrays]:
    """Every fixture, keyed by file stem ``KIND__NAME``."""
    cases: Dict[str, Arrays] = {}

    def add(kind: str, name: str, make) -> None:
        cases[f"{kind}__{name}"] = make(f"{kind}__{name}")

    for N, D, H in [(1, 1, 1), (3, 4, 5), (2, 5, 3)]:
        for cell in ("rnn", "lstm"):
            add(f"{cell}_step", f"N{N}_D{D}_H{H}", lambda n, c=cell: step_case(c, n, N, D, H))
    for N, T, D, H in [(1, 1, 1, 1), (2, 3, 4, 5), (3, 13, 2, 4), (1, 6, 3, 1)]:
        for cell in ("rnn", "lstm"):
            add(f"{cell}_seq", f"N{N}_T{T}_D{D}_H{H}", lambda n, c=cell: seq_case(c, n, N, T, D, H))
    for N, T, D, H in [(1, 1, 1, 1), (2, 7, 3, 4), (2, 12, 2, 3)]:
        add("rnn_truncated", f"N{N}_T{T}_D{D}_H{H}", lambda n: truncated_case(n, N, T, D, H))
    for cell, N, T, D, widths in [
        ("rnn", 2, 5, 3, (4, 4)),
        ("rnn", 1, 1, 1, (1, 1, 1)),
        ("rnn", 2, 12, 3, (4, 2, 5)),
        ("lstm", 2, 5, 3, (4, 4, 4)),
        ("lstm", 1, 3, 2, (3, 1)),
        ("lstm", 2, 12, 2, (3, 3)),
    ]:
        add("stacked", f"{cell}_N{N}_T{T}_D{D}_H{'-'.join(map(str, widths))}", lambda n, c=cell: stacked_case(c, n, N, T, D, widths))
    for N, T, D, H in [(2, 4, 3, 5), (1, 1, 1, 1), (3, 12, 2, 3)]:
        for cell in ("rnn", "lstm"):
            add("bidirectional", f"{cell}_N{N}_T{T}_D{D}_H{H}", lambda n, c=cell: bidirectional_case(c, n, N, T, D, H))
    for cell, N, T, D, H, scale, label in [
        ("rnn", 2, 15, 3, 4, 0.5, "vanishing"),
        ("rnn", 2, 15, 3, 4, 6.0, "large_Wh"),
        ("rnn", 1, 1, 1, 1, 1.0, "tiny"),
        ("lstm", 2, 15, 3, 4, 1.0, "default"),
        ("lstm", 1, 1, 1, 1, 1.0, "tiny"),
        ("lstm", 3, 12, 2, 2, 4.0, "large_Wh"),
    ]:
        add("grad_norms", f"{cell}_{label}_N{N}_T{T}_D{D}_H{H}", lambda n, c=cell: grad_norms_case(c, n, N, T, D, H, scale))
    shapes = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
    add("clip", "above", lambda n: clip_case(n, shapes, 0.25))
    add("clip", "below", lambda n: clip_case(n, shapes, 2.0))
    add("clip", "single_scalar", lambda n: clip_case(n, {"w": (1,)}, 0.5))
    add("sigmoid", "extremes", sigmoid_case)
    return cases


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="fixture folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the fixtures differ")
    args = parser.parse_args(argv)

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    files = {f"{stem}.npz": npz_bytes(arrays) for stem, arrays in all_cases().items()}
    total = sum(len(data) for data in files.values())
    if total > SIZE_BUDGET:
        print(f"fixtures take {total} bytes, over the budget of {SIZE_BUDGET}", file=sys.stderr)
        return 1
    existing = {p.name for p in args.out.glob("*.npz")} if args.out.is_dir() else set()
    stale = sorted(existing - set(files))
    changed = sorted(name for name, data in files.items() if not (args.out / name).is_file() or (args.out / name).read_bytes() != data)
    if args.check:
        for name in changed:
            print(f"differs: {name}")
        for name in stale:
            print(f"not generated: {name}")
        return 1 if changed or stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).unlink()
    for name in changed:
        (args.out / name).write_bytes(files[name])
    print(f"{len(files)} fixtures, {total} bytes in {args.out} ({len(changed)} written, {len(stale)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
