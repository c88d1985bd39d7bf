"""Resource limits for one tool call.

Every limit that the in-process sandbox enforces is counted, not timed, so a
call that runs out of budget does so at the same point on every machine and
the error result replays byte for byte. Wall-clock and memory limits exist only
in ``process`` isolation, where a watchdog and rlimits back the counted ones up.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-call limits of the sandbox.

    Attributes:
        ops: Operation budget of one call. One operation is a loop iteration, a
            comprehension item, a function entry, or a unit of allocation
            charged by a size guard (``alloc_unit`` items or characters).
        alloc_unit: How many items/characters one operation pays for when a
            guarded operator or method allocates.
        max_len: Largest string, list, tuple or dict a guarded operation may
            produce, in items or characters.
        max_int_bits: Largest integer a guarded operation may produce, in bits.
        max_output: Largest result text; longer output is truncated with a
            marker (deterministically).
        timeout: Wall-clock seconds per call in ``process`` isolation.
        memory_mb: Address-space headroom, in MiB, of the ``process`` worker
            above what it uses when idle.
    """

    ops: int = 1_000_000
    alloc_unit: int = 32
    max_len: int = 10_000_000
    max_int_bits: int = 100_000
    max_output: int = 100_000
    timeout: float = 0.8
    memory_mb: int = 256

    def __post_init__(self) -> None:
        for name in ("ops", "alloc_unit", "max_len", "max_int_bits", "max_output", "memory_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if not isinstance(self.timeout, int | float) or self.timeout <= 0:
            raise ValueError(f"Limits.timeout must be a positive number, got {self.timeout!r}")
