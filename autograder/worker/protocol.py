"""The wire format between the grader and the sandboxed worker (plain data only, never pickle).

A message is ``[4-byte big-endian header length][JSON header][blob 0][blob 1]...``; the header's
``"blobs"`` lists the blob lengths. Every blob is the raw bytes of one array, described in the
tree (no ``.npy`` header to parse, no pickle: a dtype string that is not a plain numeric one, or
bytes that do not fill the shape, are refused). Values are JSON trees in which

- ``{"a": i, "dtype": "<f8", "shape": [2, 3]}`` is array blob ``i`` in C order, or in Fortran
  order with ``"order": "F"`` (as ``.npy`` keeps it); only an exact ``numpy.ndarray`` of a numeric
  dtype is sent, and it arrives as a new, writable, aligned array of the same dtype, shape and order,
- ``{"t": [...]}`` a tuple, ``{"l": [...]}`` a list, ``{"d": {key: ...}}`` a dict with str keys,
- ``{"s": number, "type": name}`` a real scalar (Python or numpy) and its type name,
- ``{"str": text}``, ``{"none": 1}``,
- ``{"h": id, "type": name}`` an opaque handle: an object that stays in the worker (a cache, or
  a result of the wrong type) and that the grader can pass back by id,
- ``{"r": call_index, "p": [index, ...]}`` (grader → worker only) a part of the result of an
  earlier call of the same batch, so a forward and its backward need one round trip.

This module imports only the standard library and numpy, because the worker runs it too.
"""
from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

HEADER = struct.Struct(">I")
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_NODES = 10_000  # values with more nodes than this become handles (hostile structures)
NUMERIC_KINDS = "biuf"


class ProtocolError(Exception):
    """The other side sent something that is not a valid message (or closed the pipe)."""


class Timeout(Exception):
    """No complete message arrived before the deadline."""


# ---------------------------------------------------------------- framing


def write_message(fd: int, header: dict, blobs: List[bytes]) -> None:
    """Write one message (header plus blobs) to a pipe fd, blocking until all is written."""
    header = dict(header, blobs=[len(b) for b in blobs])
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    data = memoryview(HEADER.pack(len(head)) + head + b"".join(blobs))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exact(fd: int, size: int, deadline: Optional[float]) -> bytes:
    chunks: List[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise Timeout()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: Optional[float] = None) -> Tuple[dict, List[bytes]]:
    """Read one message; ``deadline`` is a ``time.monotonic()`` value (None waits forever)."""
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if size > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {size} bytes is too large")
    try:
        header = json.loads(_read_exact(fd, size, deadline).decode("utf-8"))
        lengths = [int(n) for n in header.get("blobs", [])]
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise ProtocolError(f"malformed header: {exc}") from None
    if not isinstance(header, dict) or any(n < 0 for n in lengths) or sum(lengths) > MAX_MESSAGE_BYTES:
        raise ProtocolError("malformed header")
    return header, [_read_exact(fd, n, deadline) for n in lengths]


# ---------------------------------------------------------------- arrays


MAX_DIMS = 32
# A plain numeric dtype as ``dtype.str`` spells it: byte order, kind, item size ("<f8", "|b1", ">i4").
_DTYPE = re.compile(r"[<>|][biuf][0-9]{1,2}")


def array_to_wire(array: np.ndarray) -> Tuple[dict, bytes]:
    """The tree node (without the blob index) and the raw bytes of a plain array."""
    fortran = not array.flags.c_contiguous and array.flags.f_contiguous  # as np.save decides
    node = {"dtype": array.dtype.str, "shape": list(array.shape)}
    if fortran:
        node["order"] = "F"
    return node, array.tobytes(order="F" if fortran else "C")


def wire_to_array(node: dict, blob: bytes) -> np.ndarray:
    """The array a node and its blob describe; anything but a plain numeric array is refused."""
    dtype_text, shape, order = node.get("dtype"), node.get("shape"), node.get("order", "C")
    if type(dtype_text) is not str or not _DTYPE.fullmatch(dtype_text):
        raise ProtocolError(f"array of dtype {str(dtype_text)[:40]!r} refused")
    dtype = np.dtype(dtype_text)
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.str != dtype_text:
        raise ProtocolError(f"array of dtype {dtype_text!r} refused")
    if (type(shape) is not list or len(shape) > MAX_DIMS or any(type(n) is not int or n < 0 for n in shape)
            or order not in ("C", "F")):
        raise ProtocolError("invalid array: malformed shape or order")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(blob):
        raise ProtocolError(f"invalid array: {len(blob)} bytes for shape {tuple(shape)} of {dtype_text}")
    flat = np.frombuffer(blob, dtype=dtype).copy()  # a copy: writable and aligned, as np.load gives
    if order == "F":
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def is_plain_array(value: Any) -> bool:
    """Exactly ``numpy.ndarray`` (no subclass) of a numeric dtype."""
    return type(value) is np.ndarray and value.dtype.kind in NUMERIC_KINDS and not value.dtype.hasobject


# ---------------------------------------------------------------- value trees


def encode(value: Any, blobs: List[bytes], other: Callable[[Any], dict], budget: Optional[List[int]] = None) -> Any:
    """Encode ``value`` into a JSON tree, appending arrays to ``blobs``.

    ``other(value)`` encodes anything that is not plain data (the worker makes it a handle; the
    grader passes handles and references through it).
    """
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        return other(value)
    kind = type(value)
    if kind is np.ndarray:
        if not is_plain_array(value):
            return other(value)
        node, blob = array_to_wire(value)
        blobs.append(blob)
        return dict(node, a=len(blobs) - 1)
    if kind is tuple:
        return {"t": [encode(v, blobs, other, budget) for v in value]}
    if kind is list:
        return {"l": [encode(v, blobs, other, budget) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {"d": {k: encode(v, blobs, other, budget) for k, v in value.items()}}
    if kind in (bool, int, float) or (isinstance(value, np.generic) and type(value).__module__ == "numpy"
                                      and np.dtype(kind).kind in NUMERIC_KINDS):
        number = value.item() if isinstance(value, np.generic) else value
        if type(number) is int and abs(number) > 2**62:
            number = float(number)
        return {"s": number, "type": kind.__name__}
    if kind is str:
        return {"str": value[:10_000]}
    if value is None:
        return {"none": 1}
    return other(value)


def decode(tree: Any, blobs: List[bytes], special: Callable[[dict], Any], scalar: Optional[Callable[[Any, str], Any]] = None,
           depth: int = 0) -> Any:
    """Inverse of :func:`encode`; ``special(node)`` decodes ``{"h": ...}`` and ``{"r": ...}`` nodes.

    Scalars become :class:`Scalar` (grader side) or ``scalar(value, type_name)`` when given.
    """
    if depth > 100 or not isinstance(tree, dict) or len(tree) > 2 and "d" not in tree and "a" not in tree:
        raise ProtocolError("malformed value")
    if "a" in tree:
        index = tree["a"]
        if type(index) is not int or not 0 <= index < len(blobs) or len(tree) > 4:
            raise ProtocolError("bad array index")
        return wire_to_array(tree, blobs[index])
    if "t" in tree:
        return tuple(decode(v, blobs, special, scalar, depth + 1) for v in _list(tree["t"]))
    if "l" in tree:
        return [decode(v, blobs, special, scalar, depth + 1) for v in _list(tree["l"])]
    if "d" in tree:
        items = tree["d"]
        if not isinstance(items, dict):
            raise ProtocolError("malformed dict")
        return {str(k): decode(v, blobs, special, scalar, depth + 1) for k, v in items.items()}
    if "s" in tree:
        number = tree["s"]
        if type(number) not in (bool, int, float):
            raise ProtocolError("malformed scalar")
        type_name = str(tree.get("type", type(number).__name__))[:100]
        return scalar(number, type_name) if scalar else Scalar(number, type_name)
    if "str" in tree:
        return str(tree["str"])
    if "none" in tree:
        return None
    if "h" in tree or "r" in tree:
        return special(tree)
    raise ProtocolError("malformed value")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError("malformed list")
    return value


class Scalar:
    """A number that crossed the wire, with the name of the type it had (``float``, ``float64``...)."""

    __slots__ = ("value", "type_name")

    def __init__(self, value: Any, type_name: str) -> None:
        self.value = value
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"{self.type_name}({self.value!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Scalar) and (self.value, self.type_name) == (other.value, other.type_name)

    def __hash__(self) -> int:
        return hash((self.value, self.type_name))
