"""The compiler from ASTRA traces to env packs (``astra-gym compile``).

Example:
    >>> from synth.compiler import compile_files  # doctest: +SKIP
    >>> result = compile_files(["step5.jsonl"], name="mypack", out="packs/mypack")  # doctest: +SKIP
"""

from .compiler import REPORT_FILE, CompileResult, RowOutcome, compile_files, compile_row
from .inputs import InputError, SourceRow, read_rows
from .replay import REPLAY_SEED, check_compiles, replay_gold_calls
from .rows import Draft, Reason, Replay, RowRejected, detect_shape, draft_task

__all__ = [
    "REPLAY_SEED",
    "REPORT_FILE",
    "CompileResult",
    "Draft",
    "InputError",
    "Reason",
    "Replay",
    "RowOutcome",
    "RowRejected",
    "SourceRow",
    "check_compiles",
    "compile_files",
    "compile_row",
    "detect_shape",
    "draft_task",
    "read_rows",
    "replay_gold_calls",
]
