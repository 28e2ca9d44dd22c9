"""A hostile submission that answers from the student-CI bundle's stored examples (issue 24).

A student can read the student-CI bundle from their own CI. Its stored examples and answers are then a
lookup table: every graded function of this submission looks its arguments up among the part calls the
bundle stores (``cases.json``, ``arrays.npz``: the calls a correct composite makes and the parts and
forwards served for it) and returns the stored result; anywhere else it returns garbage (None). It earns
formative points; the real grade, whose examples are other ones (autograder/engine/draws.py, seeds below
the bundle's ``SEED_OFFSET``), must give it none.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Sequence

MODULE = '''"""Answers looked up in the student-CI bundle's stored calls (a hostile submission: see tests/hostile)."""
import hashlib
import json
from pathlib import Path

import numpy as np

_DATA = Path(__file__).resolve().parent / "lookup_data"
_TABLE = {}


def _feed(h, value):
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.ascontiguousarray(value)
        h.update(b"A" + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    elif isinstance(value, dict):
        h.update(b"D%d" % len(value))
        for k in sorted(value, key=str):
            h.update(repr(k).encode())
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d" % len(value))
        for v in value:
            _feed(h, v)
    else:
        h.update(b"S" + repr(value).encode())


def _digest(value):
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _decode(node, arrays):
    if isinstance(node, dict):
        if "array" in node:
            flat, index = arrays
            dtype, offset, shape = index[node["array"]]
            return flat[dtype][offset:offset + int(np.prod(shape))].reshape(shape).copy()
        if "scalar" in node:
            return _decode(node["scalar"], arrays)[()]
        if "dict" in node:
            return {k: _decode(v, arrays) for k, v in node["dict"].items()}
        if "list" in node:
            return [_decode(v, arrays) for v in node["list"]]
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return node


def _load():
    cases = json.loads((_DATA / "cases.json").read_text())
    with np.load(_DATA / "arrays.npz") as stored:
        arrays = {k: stored[k] for k in stored.files}, cases["arrays"]
    for call in cases["calls"]:
        key = [call["key"].partition(".")[2], _decode(call["args"], arrays), _decode(call["kwargs"], arrays)]
        _TABLE[_digest(key)] = call["result"], arrays


def _answer(name, args, kwargs):
    if not _TABLE:
        _load()
    key = _digest([name, list(args), dict(kwargs)])
    found = _TABLE.get(key)
    if found is not None:
        return _decode(*found)
    if key in _OUTPUTS:  # a stored example's answer (the bundle's expected outputs, keyed by its inputs)
        count, cache = _OUTPUTS[key]
        with np.load(_DATA / "outputs.npz") as stored:
            values = [stored[f"{key}_{i}"] for i in range(count)]
        if cache is not None:
            values.insert(cache, None)
        return tuple(values) if len(values) > 1 else values[0]
    return None  # garbage where the bundle has no answer


_OUTPUTS = json.loads((_DATA / "outputs.json").read_text()) if (_DATA / "outputs.json").is_file() else {}
'''

STUB = '''

def {name}(*args, **kwargs):
    return _answer("{name}", args, kwargs)
'''


def make(dest: Path, data: Path, module_functions: Dict[str, Sequence[str]]) -> Path:
    """Write the lookup submission to ``dest``: one module per graded module, each function a lookup in the
    bundle data folder ``data`` (copied into the submission, as a student's repository would hold it): the
    stored part calls, and the stored answers of the examples of functions with plain array outputs, keyed
    by their arguments (made as the bundle's own code makes a stored example's inputs)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(data, dest / "lookup_data")
    _outputs(data, dest / "lookup_data")
    for module, names in module_functions.items():
        (dest / f"{module}.py").write_text(MODULE + "".join(STUB.format(name=n) for n in names), encoding="utf-8")
    return dest


def _outputs(data: Path, out: Path) -> None:
    """outputs.json / outputs.npz: for each stored example of a forward or plain function whose outputs are
    arrays, digest of its call's arguments -> its stored outputs in order (the cache left out)."""
    import dataclasses
    import hashlib
    import json

    import numpy as np

    from autograder.engine import reference
    from autograder.engine.pack import function
    from autograder.engine.spec import A, Cache
    from autograder.engine.strategies import materialize
    from autograder.integrations.student_ci import Store, StoredOracle, _feed

    source = StoredOracle(Store.load(data))
    table: Dict[str, list] = {}
    arrays: Dict[str, np.ndarray] = {}
    for key in source.store.examples:
        name, kind, profile, count = key.split("|")
        fn = function(name)
        if fn.forward or kind != "values" or any(not isinstance(o.template, (A, Cache)) for o in fn.outputs):
            continue
        for ex in source.examples(fn, kind, profile, int(count)):
            inputs = materialize(fn, dataclasses.replace(ex, truncate=None))
            try:
                answer = source.expected(fn, inputs)
            except Exception:  # noqa: BLE001 - no stored answer for this one
                continue
            args, kwargs = reference.call_arguments(fn, inputs)
            h = hashlib.sha256()
            _feed(h, [name, list(args), dict(kwargs)])
            digest = h.hexdigest()
            names = [o.name for o in fn.outputs if o.name != "cache"]
            if set(names) != set(answer):
                continue
            cache = next((i for i, o in enumerate(fn.outputs) if o.name == "cache"), None)
            table[digest] = [len(names), cache]
            for i, n in enumerate(names):
                arrays[f"{digest}_{i}"] = answer[n]
    (out / "outputs.json").write_text(json.dumps(table), encoding="utf-8")
    np.savez(out / "outputs.npz", **arrays)
