"""A second, tiny assignment pack: an affine layer forward and backward.

It proves that the engine knows no assignment: the same engine and commands grade it
(``python -m autograder --pack tests/packs/affine grade SUBMISSION --results r.json``).
"""
from __future__ import annotations

from pathlib import Path

from autograder.engine.pack import Pack
from autograder.engine.spec import A, Cache, Function, Out

FOLDER = Path(__file__).resolve().parent
X, W, B, OUT = A(("N", "D")), A(("D", "H")), A(("H",)), A(("N", "H"))

PACK = Pack(
    name="affine",
    folder=FOLDER,
    functions=(
        Function("affine_forward", "affine_layers", (("x", X), ("w", W), ("b", B)), (Out("out", OUT), Out("cache", Cache()))),
        Function("affine_backward", "affine_layers", (("dout", OUT), ("cache", Cache())),
                 (Out("dx", X, "x"), Out("dw", W, "w"), Out("db", B, "b")),
                 forward="affine_forward", upstream={"dout": "out"}),
    ),
    reference_dir=FOLDER / "reference",
    profiles={"general": {"N": (1, 4), "D": (1, 5), "H": (1, 5)}, "edge": {"N": (1, 2), "D": (1, 2), "H": (1, 2)}},
    boundary_profiles=("general", "edge"),
)
