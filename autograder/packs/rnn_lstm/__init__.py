"""The rnn_lstm pack: RNN and LSTM cells, BPTT (full and truncated), stacked and bidirectional
layers, gradient flow (the contract: ASSIGNMENT_API.md).

Everything the engine needs to grade this assignment, in one place: the graded functions
(:mod:`.functions`), the rubric (``rubric.toml``), size profiles and structured inputs
(:mod:`.inputs`), its own check kinds (:mod:`.checks`), localization facts (:mod:`.facts`), the
mistakes catalogue (:mod:`.mistakes`) and the mutation report's equivalent mutants.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List

from autograder.engine.pack import Lazy, Pack, standard_dirs
from autograder.packs.rnn_lstm import checks, inputs
from autograder.packs.rnn_lstm.functions import FUNCTIONS

FOLDER = Path(__file__).resolve().parent


def diagnose(*args: Any, **kwargs: Any) -> List[Any]:
    """The mistakes catalogue's :func:`~autograder.packs.rnn_lstm.mistakes.diagnose`, imported when
    first asked (the student-CI bundle leaves the catalogue out)."""
    from autograder.packs.rnn_lstm.mistakes import diagnose as catalogue

    return list(catalogue(*args, **kwargs))


def mistakes(function: str) -> List[Any]:
    """The catalogued mistakes listed under one graded function (imported when first asked)."""
    from autograder.packs.rnn_lstm.mistakes.catalogue import mistakes_for

    return mistakes_for(function)
TRUNCATION_KINDS = ("truncate_full", "truncate_chunks")

PACK = Pack(
    name="rnn_lstm",
    folder=FOLDER,
    functions=FUNCTIONS,
    profiles=inputs.PROFILES,
    boundary_profiles=inputs.BOUNDARY_PROFILES,
    cell_gates={"lstm": 4},  # the fused gates i, f, g, o
    gate_names=("i", "f", "g", "o"),
    activations={"lstm_layers.sigmoid": "sigmoid"},
    kinds={"truncate_full": checks.check_truncate_full, "truncate_chunks": checks.check_truncate_chunks,
           "carousel": checks.check_carousel, "invalid_cell": checks.check_invalid_cell},
    # An invalid-cell test checks a property of working code (it counts with evidence that the function
    # computes); "truncate >= T is full BPTT" holds trivially for a function that ignores truncate, so it
    # counts when truncation works or when full BPTT itself (the first values test) is right.
    requires={"invalid_cell": ("values", "evidence"), "truncate_full": ("truncate_chunks", "values")},
    shows_inputs=TRUNCATION_KINDS + ("carousel",),
    boundary_kinds=TRUNCATION_KINDS,
    localized_kinds=("carousel",) + TRUNCATION_KINDS,
    option_kinds={"truncate": TRUNCATION_KINDS},
    specials=inputs.SPECIALS,
    cell_specials=inputs.CELL_SPECIALS,
    apply_special=inputs.apply_special,
    special_words=inputs.SPECIAL_WORDS,
    backward_at_outputs=checks.backward_at_outputs,
    retry_inputs={"carousel": checks.carousel_inputs},
    stored_inputs={"carousel": checks.carousel_inputs, "truncate_full": checks.truncate_full_inputs,
                   "truncate_chunks": checks.truncate_chunks_inputs},
    stored_outputs={"carousel": ("next_c", "dprev_c")},
    diagnose=diagnose,
    mistakes=mistakes,
    # computed from the reference's maths: imported when localization first asks (never in the student CI)
    facts=Lazy(f"{__name__}.facts:FACTS"),
    fact_checks=Lazy(f"{__name__}.facts:FACT_CHECKS"),
    extra_modules=("gradient_check",),
    staff_only=("facts", "mistakes"),
    mutation_equivalents=FOLDER / "mutation_equivalents.toml",
    helpers=("sigmoid", "cell_functions"),
    bench={"buggy_function": "rnn_step_backward", "buggy_text": "next_h ** 1",
           # cold gradings timed (make bench): a backward bug, a forward and backward bug, a forward wrong only for H > 1
           "cold_students": ("rnn_step_tanh_twice", "lstm_gate_order_ifog"), "cold_realistic": ("rsf_wh_column_convention",),
           "variants": {"rnn_layers.py": "written_differently_rnn.py", "lstm_layers.py": "written_differently_lstm.py"}},
    **standard_dirs("rnn_lstm"),
)

# The pack's trees and modules under their own names (this repository's tests read them).
ASSIGNMENT = PACK.name
SOURCE_DIR, RELEASE_DIR, SOLUTIONS_DIR = PACK.source_dir, PACK.release_dir, PACK.reference_dir
GRADED_MODULES = PACK.graded_modules
BY_NAME = PACK.by_name
